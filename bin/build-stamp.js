// Whether dist/ holds the compiled form of the sources as they are now, so that a checkout can run
// it instead of the TypeScript. Running src/ costs Node's type stripping (a WebAssembly compiler,
// about 30 MiB and 50 ms for `catalog-sync --help`); running a stale dist/ would run code the
// developer no longer has. The build (scripts/build.js) stamps dist/ with the time it started;
// dist/ is current while no source file or folder has changed since.
// Plain JavaScript, like bin/catalog-sync.js: it runs before Node's version is checked.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** What the build compiles (tsconfig.build.json's "include") and the settings it compiles with. */
const SOURCE_FOLDERS = ['src', 'jobs', 'db'];
const SOURCE_FILES = ['tsconfig.json', 'tsconfig.build.json'];

const STAMP = path.join('dist', '.build-stamp');
/** One per build: two builds at once (npm pack beside npm run build) each finish their own. */
const PENDING = `${STAMP}.${process.pid}.pending`;

const mtimeOf = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs;

/**
 * True when something under `folder` (a file, or a folder: its time changes when an entry is
 * added, removed or renamed) was modified at or after `since`.
 */
function changedSince(folder, since) {
  if ((mtimeOf(folder) ?? 0) >= since) return true;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory() ? changedSince(full, since) : (mtimeOf(full) ?? 0) >= since) return true;
  }
  return false;
}

/** Whether `root`/dist was built, successfully, from the sources as they are now. */
export function isBuildCurrent(root) {
  const builtAt = mtimeOf(path.join(root, STAMP));
  if (builtAt === undefined) return false;
  if (SOURCE_FILES.some((file) => (mtimeOf(path.join(root, file)) ?? 0) >= builtAt)) return false;
  return !SOURCE_FOLDERS.some((folder) => {
    const full = path.join(root, folder);
    return mtimeOf(full) !== undefined && changedSince(full, builtAt);
  });
}

/**
 * Called before compiling: dist/ is about to change, so it is no longer current, and the pending
 * stamp's time (the file system's own clock, at its own resolution) is when the build started.
 */
export function beginBuild(root) {
  rmSync(path.join(root, STAMP), { force: true });
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  writeFileSync(
    path.join(root, PENDING),
    'Written by scripts/build.js: its time is when dist/ was last built (bin/build-stamp.js).\n',
  );
}

/** Called after a successful compile: a rename keeps the pending stamp's time (the build's start). */
export function finishBuild(root) {
  renameSync(path.join(root, PENDING), path.join(root, STAMP));
}
