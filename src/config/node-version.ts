/**
 * The first import of every entry point run by hand (`node src/cli/main.ts`, `node src/demo/main.ts`,
 * `node test/bench/main.ts`): on a Node.js that runs TypeScript but is older than the project's
 * (22.18+ and 23.6+ strip types by default, 22.6+ with --experimental-strip-types), it stops with one
 * sentence saying what is needed instead of failing later with a stack trace. An ES module's imports
 * run in order, so this body runs before any other module's. Node.js 20 cannot get here: it refuses
 * a `.ts` file before running any code (ERR_UNKNOWN_FILE_EXTENSION); bin/catalog-sync.js, plain
 * JavaScript, makes the same check for the installed command, and `npm run …` sets Node up itself
 * (scripts/with-node.sh).
 */

/** The major version in .node-version and package.json's engines (a unit test keeps them equal). */
export const REQUIRED_NODE_MAJOR = 24;

/** The sentence to print when `version` (e.g. process.versions.node) is too old, else null. */
export function nodeVersionProblem(version: string): string | null {
  const major = Number.parseInt(version, 10);
  if (Number.isInteger(major) && major >= REQUIRED_NODE_MAJOR) return null;
  return (
    `catalog-sync needs Node.js ${REQUIRED_NODE_MAJOR} (this is Node.js ${version}): run it through npm, ` +
    'which sets Node.js up by itself (`npm run catalog-sync -- <command>`, `npm run demo`, `npm test`), ' +
    `or install Node.js ${REQUIRED_NODE_MAJOR} (see .nvmrc) and run the command again.`
  );
}

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
