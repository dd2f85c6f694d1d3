// `npm run build` (also npm's `prepare`): compiles src/, jobs/ and db/ into dist/ with tsc, then
// stamps dist/ as current, so that bin/catalog-sync.js runs the compiled JavaScript until a source
// changes (bin/build-stamp.js). A failed compile leaves no stamp: the checkout then runs src/.
// tsc writes into a staging folder, and each file then replaces its old copy with a rename: a
// process already running from dist/ (a worker, a test's CLI) that loads a module later reads the
// old file or the new one, never one half written.
// Plain JavaScript, so that `npm ci` builds under whichever Node.js runs it, as tsc alone did.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beginBuild, finishBuild } from '../bin/build-stamp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
// Beside dist/, at its depth, so that the source maps' relative paths hold after the move; one per
// build, so that two at once do not remove each other's.
const staging = path.join(root, `.dist-staging-${process.pid}`);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Moves every file under `from` to the same place under `to`, one rename each. */
function moveFiles(from, to) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) moveFiles(source, target);
    else renameSync(source, target);
  }
}

beginBuild(root);
rmSync(staging, { recursive: true, force: true });
const result = spawnSync(
  process.execPath,
  [tsc, '-p', 'tsconfig.build.json', '--outDir', staging, ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
if (result.status !== 0) {
  if (result.error) console.error(`could not run tsc: ${result.error.message}`);
  rmSync(staging, { recursive: true, force: true });
  process.exit(result.status ?? 1);
}
moveFiles(staging, dist);
rmSync(staging, { recursive: true, force: true });
finishBuild(root);
