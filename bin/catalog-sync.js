#!/usr/bin/env node
// Runs the compiled JavaScript (dist/) when it is current: always in an installed package, which
// ships no src/, and in a checkout once `npm ci` or `npm run build` compiled it. A checkout whose
// sources changed since runs the TypeScript directly (Node 24 strips types), so an edit takes
// effect without a build; bin/build-stamp.js says how "current" is decided, and why it matters.
// This file is plain JavaScript so that an older Node.js gets one sentence instead of a stack
// trace (Node 20 cannot even load a .ts file); the source's own check is src/config/node-version.ts.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { isBuildCurrent } from './build-stamp.js';
import { missingWorkerFlags } from './worker-v8-flags.js';

const required = 24;
if (Number.parseInt(process.versions.node, 10) < required) {
  console.error(
    `catalog-sync needs Node.js ${required} (this is Node.js ${process.versions.node}): in a checkout run ` +
      '`npm run catalog-sync -- <command>`, which sets Node.js up by itself, or install Node.js ' +
      `${required} (see .nvmrc) and run the command again.`,
  );
  process.exit(1);
}

// `worker` re-executes itself (process.execve: the same pid, so signals, exit codes and whatever
// supervises it see no difference) with the heap flags of worker-v8-flags.js that node's flags or
// NODE_OPTIONS do not already set; its children inherit them. Where process.execve is missing
// (Windows) it runs with V8's defaults.
if (process.argv[2] === 'worker' && typeof process.execve === 'function') {
  const missing = missingWorkerFlags(process.execArgv, process.env.NODE_OPTIONS);
  if (missing.length > 0) {
    process.execve(
      process.execPath,
      [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
      process.env,
    );
  }
}

// V8 keeps the code it compiled for each module on disk (NODE_COMPILE_CACHE, else a folder in the
// OS's temporary directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off) and the next command skips
// compiling it again: about 10% of a read command's CPU. A cache that cannot be written is ignored.
module.enableCompileCache?.();

const root = new URL('../', import.meta.url);
const source = new URL('src/cli/main.ts', root);
const runSource = existsSync(source) && !isBuildCurrent(fileURLToPath(root));
await import(runSource ? source.href : new URL('dist/src/cli/main.js', root).href);
