// `npm run build` (also npm's `prepare`): compiles src/, jobs/ and db/ into dist/ with tsc, then
// stamps dist/ as current, so that bin/catalog-sync.js runs the compiled JavaScript until a source
// changes (bin/build-stamp.js). A failed compile leaves no stamp: the checkout then runs src/.
// Plain JavaScript, so that `npm ci` builds under whichever Node.js runs it, as tsc alone did.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { beginBuild, finishBuild } from '../bin/build-stamp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

beginBuild(root);
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  if (result.error) console.error(`could not run tsc: ${result.error.message}`);
  process.exit(result.status ?? 1);
}
finishBuild(root);
