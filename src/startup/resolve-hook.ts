import { registerHooks } from 'node:module';

/*
 * Imported first by every entry point that loads the database layer (the CLI, each worker child,
 * the public API), before anything imports drizzle-orm.
 *
 * Why: on Node 24, resolving any module inside a package re-reads that package's package.json and
 * re-parses its whole "exports" map (node:internal/modules/package_json_reader spreads an object
 * whose lazy `exports` getter parses the JSON text every time). drizzle-orm's package.json is 175 KB,
 * one export per file, and the driver pulls in over 100 of its files: importing
 * `drizzle-orm/postgres-js` took 0.42 s and peaked at 290 MiB, almost all of it those parses and
 * their garbage; with this hook, 0.08 s and 63 MiB.
 *
 * What: a relative import from one drizzle-orm file to another (`./entity.js`) is answered with the
 * URL it names; drizzle-orm is `"type": "module"` with no nested package.json, so every `.js` file
 * in it is an ES module. Everything else (bare specifiers, other packages, our own files) goes
 * through Node's resolver unchanged.
 */
const PACKAGE_DIR = '/node_modules/drizzle-orm/';

function isDrizzleInternal(specifier: string, parentURL: string | undefined): boolean {
  return (
    parentURL?.includes(PACKAGE_DIR) === true &&
    (specifier.startsWith('./') || specifier.startsWith('../')) &&
    specifier.endsWith('.js')
  );
}

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (isDrizzleInternal(specifier, context.parentURL)) {
      return { url: new URL(specifier, context.parentURL).href, format: 'module', shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});
