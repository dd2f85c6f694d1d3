import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { nodeVersionProblem, REQUIRED_NODE_MAJOR } from '../../../src/config/node-version.ts';

const run = promisify(execFile);

describe('the Node.js version check', () => {
  it('matches .node-version, package.json engines and the bin script', () => {
    const nodeVersion = readFileSync('.node-version', 'utf8').trim();
    expect(Number.parseInt(nodeVersion, 10)).toBe(REQUIRED_NODE_MAJOR);
    const engines = JSON.parse(readFileSync('package.json', 'utf8')).engines.node as string;
    expect(engines).toContain(`>=${REQUIRED_NODE_MAJOR}.`);
    expect(readFileSync('bin/catalog-sync.js', 'utf8')).toContain(`const required = ${REQUIRED_NODE_MAJOR};`);
  });

  it('accepts the required major and later ones', () => {
    expect(nodeVersionProblem(`${REQUIRED_NODE_MAJOR}.0.0`)).toBeNull();
    expect(nodeVersionProblem(process.versions.node)).toBeNull();
  });

  it('refuses an older one with one sentence saying what to run', () => {
    const problem = nodeVersionProblem('22.18.0');
    expect(problem).toMatch(/needs Node\.js 24 \(this is Node\.js 22\.18\.0\)/);
    expect(problem).toContain('npm run catalog-sync -- <command>');
    expect(problem).not.toContain('\n');
  });

  it('stops a source entry point before any other module runs', async () => {
    // The check reads process.versions.node; an --import that overrides it stands for an old Node.
    const fake = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"22.18.0"})';
    const result = await run(process.execPath, ['--import', fake, 'src/cli/main.ts', '--help']).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^catalog-sync needs Node\.js 24 \(this is Node\.js 22\.18\.0\)[^\n]*\.$/,
    );
  });
});
