#!/usr/bin/env node
// A source checkout runs the TypeScript directly (Node 24 strips types, so no build step);
// an installed package, which ships no src/, runs the compiled JavaScript.
// This file is plain JavaScript so that an older Node.js gets one sentence instead of a stack
// trace (Node 20 cannot even load a .ts file); the source's own check is src/config/node-version.ts.
import { existsSync } from 'node:fs';

const required = 24;
if (Number.parseInt(process.versions.node, 10) < required) {
  console.error(
    `catalog-sync needs Node.js ${required} (this is Node.js ${process.versions.node}): in a checkout run ` +
      '`npm run catalog-sync -- <command>`, which sets Node.js up by itself, or install Node.js ' +
      `${required} (see .nvmrc) and run the command again.`,
  );
  process.exit(1);
}

const source = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/src/cli/main.js', import.meta.url).href);
