#!/usr/bin/env node
// A source checkout runs the TypeScript directly (Node 24 strips types, so no build step);
// an installed package, which ships no src/, runs the compiled JavaScript.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/src/cli/main.js', import.meta.url).href);
