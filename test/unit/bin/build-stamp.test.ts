import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { beginBuild, finishBuild, isBuildCurrent } from '../../../bin/build-stamp.js';

/*
 * bin/catalog-sync.js runs dist/ only while it is the compiled form of the sources as they are:
 * otherwise a developer (or a CLI test) would run code that no longer exists in src/.
 */

let root: string;
const HOUR = 3_600_000;

/** Sets a path's modification time `ms` from now (negative: in the past). */
const age = (relative: string, ms: number) => {
  const at = new Date(Date.now() + ms);
  utimesSync(path.join(root, relative), at, at);
};

/** A build that started half an hour ago (the stamp's time is the build's start). */
function build(): void {
  beginBuild(root);
  finishBuild(root);
  age('dist/.build-stamp', -HOUR / 2);
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'cs-build-stamp-'));
  for (const folder of ['src/cli', 'jobs', 'db']) mkdirSync(path.join(root, folder), { recursive: true });
  for (const file of ['src/cli/main.ts', 'jobs/main.ts', 'db/schema.ts', 'tsconfig.json']) {
    writeFileSync(path.join(root, file), '// source\n');
  }
  // Checked out an hour ago.
  for (const entry of ['src/cli/main.ts', 'src/cli', 'src', 'jobs/main.ts', 'jobs', 'db/schema.ts', 'db']) {
    age(entry, -HOUR);
  }
  age('tsconfig.json', -HOUR);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('whether dist/ is current', () => {
  it('is not before any build, nor while one runs (or after one failed)', () => {
    expect(isBuildCurrent(root)).toBe(false);
    build();
    beginBuild(root);
    expect(isBuildCurrent(root)).toBe(false);
  });

  it('is after a build, until a source file changes', () => {
    build();
    expect(isBuildCurrent(root)).toBe(true);
    age('src/cli/main.ts', 0);
    expect(isBuildCurrent(root)).toBe(false);
    beginBuild(root);
    finishBuild(root);
    expect(isBuildCurrent(root)).toBe(true);
  });

  it('is not once a file is added to, or removed from, a source folder', () => {
    build();
    age('db', 0);
    expect(isBuildCurrent(root)).toBe(false);
  });

  it('is not once the compiler settings change', () => {
    build();
    age('tsconfig.json', 0);
    expect(isBuildCurrent(root)).toBe(false);
  });
});
