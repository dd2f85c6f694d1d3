import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkImports, describeViolation, unitCycles, unitOf } from '../../../scripts/check-imports.ts';

const CONFIG = path.resolve('.dependency-cruiser.cjs');

/** A layered tree that follows every rule; each test adds files that break one. */
const CLEAN: Record<string, string> = {
  'src/config/env.ts': `export const env = {};`,
  'src/errors.ts': `export class AppError extends Error {}`,
  'src/log/logger.ts': `import { env } from '../config/env.ts';\nexport const logger = env;`,
  'db/schema.ts': `export const products = {};`,
  'src/catalog/model.ts': `export interface Product { id: string }`,
  'src/sync/store.ts': `import { products } from '../../db/schema.ts';\nexport const load = () => products;`,
  'src/sync/run.ts':
    `import type { Product } from '../catalog/model.ts';\nimport { AppError } from '../errors.ts';\n` +
    `import { load } from './store.ts';\nexport const run = (p: Product) => [p, load(), AppError];`,
  'src/queue/producer.ts': `import { logger } from '../log/logger.ts';\nexport const enqueue = () => logger;`,
  'src/app/sync.ts':
    `import { enqueue } from '../queue/producer.ts';\nimport { run } from '../sync/run.ts';\n` +
    `export const requestSync = () => [enqueue, run];`,
  'jobs/processors.ts': `import { requestSync } from '../src/app/sync.ts';\nexport const process = requestSync;`,
  'jobs/main.ts': `import { process } from './processors.ts';\nexport const startWorker = process;`,
  'src/cli/output.ts': `export const render = (x: unknown) => String(x);`,
  'src/cli/commands/worker.ts':
    `import { render } from '../output.ts';\n` +
    `export const worker = async () => render(await import('../../../jobs/main.ts'));`,
  'src/cli/main.ts': `import { worker } from './commands/worker.ts';\nexport const main = worker;`,
  'src/index.ts': `import { requestSync } from './app/sync.ts';\nexport { requestSync };`,
  'bin/catalog-sync.js': `await import('../src/cli/main.ts');`,
};

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function violationsOf(extra: Record<string, string>) {
  dir = await mkdtemp(path.join(tmpdir(), 'imports-'));
  for (const [file, text] of Object.entries({ ...CLEAN, ...extra })) {
    await mkdir(path.join(dir, path.dirname(file)), { recursive: true });
    await writeFile(path.join(dir, file), `${text}\n`);
  }
  return checkImports(dir, { configPath: CONFIG });
}

describe('the import check (.dependency-cruiser.cjs + scripts/check-imports.ts)', () => {
  it('passes a tree whose layers point down', async () => {
    expect(await violationsOf({})).toEqual([]);
  });

  it('fails on each kind of upward import, naming the rule', async () => {
    const violations = await violationsOf({
      // the domain reaches the schema and the file system
      'src/catalog/model.ts': `import type { products } from '../../db/schema.ts';\nimport 'node:fs';\nexport type P = typeof products;`,
      // a service calls the application layer; the application layer calls the worker and the CLI
      'src/sync/store.ts': `import { requestSync } from '../app/sync.ts';\nexport const load = () => requestSync;`,
      'src/app/sync.ts': `import { process } from '../../jobs/processors.ts';\nimport { render } from '../cli/output.ts';\nexport const requestSync = () => [process, render];`,
      // the bottom layer and db/ reach up
      'src/config/env.ts': `import { logger } from '../log/logger.ts';\nimport { run } from '../sync/run.ts';\nexport const env = [logger, run];`,
      'db/client.ts': `import { env } from '../src/config/env.ts';\nexport const client = env;`,
      // the CLI loads the worker eagerly, and a piece of it besides main
      'src/cli/commands/worker.ts': `import { startWorker } from '../../../jobs/main.ts';\nimport { process } from '../../../jobs/processors.ts';\nexport const worker = [startWorker, process];`,
      // the worker goes round the application layer to a service
      'jobs/worker.ts': `import { run } from '../src/sync/run.ts';\nexport const work = run;`,
    });
    const rules = new Set(violations.map((violation) => violation.rule));
    expect([...rules].sort()).toEqual([
      'app-not-to-worker-or-cli',
      'bottom-layer-imports-nothing-above',
      'catalog-is-pure',
      'cli-loads-the-worker-lazily',
      'db-imports-no-application-code',
      'entry-points-start-the-worker-only',
      'jobs-reach-src-through-app',
      'no-cycles-across-folders',
      'no-folder-cycles',
      'no-importing-entry-points',
      'only-entry-points-import-jobs',
      'services-not-to-app',
    ]);
    expect(violations).toContainEqual({
      rule: 'catalog-is-pure',
      from: 'src/catalog/model.ts',
      to: 'db/schema.ts',
    });
    expect(violations).toContainEqual({ rule: 'catalog-is-pure', from: 'src/catalog/model.ts', to: 'fs' });
    expect(violations).toContainEqual({
      rule: 'jobs-reach-src-through-app',
      from: 'jobs/worker.ts',
      to: 'src/sync/run.ts',
    });
    expect(violations).toContainEqual({
      rule: 'only-entry-points-import-jobs',
      from: 'src/app/sync.ts',
      to: 'jobs/processors.ts',
    });
  });

  it('finds a cycle between folders that no single module cycle shows', async () => {
    // src/sync → src/queue through one file, src/queue → src/sync through another.
    const violations = await violationsOf({
      'src/sync/notify.ts': `import { enqueue } from '../queue/producer.ts';\nexport const notify = enqueue;`,
      'src/queue/plan.ts': `import { load } from '../sync/store.ts';\nexport const plan = load;`,
    });
    expect(violations.map(describeViolation)).toEqual([
      'error no-folder-cycles: src/queue → src/sync → src/queue',
    ]);
  });
});

describe('units and their cycles', () => {
  it('maps modules to units', () => {
    expect(unitOf('src/sync/run.ts')).toBe('src/sync');
    expect(unitOf('src/cli/commands/sync.ts')).toBe('src/cli');
    expect(unitOf('src/index.ts')).toBe('src/index.ts');
    expect(unitOf('jobs/main.ts')).toBe('jobs');
    expect(unitOf('node_modules/zod/index.js')).toBeNull();
  });

  it('reports one cycle per strongly connected group', () => {
    const edges = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set<string>()],
    ]);
    expect(unitCycles(edges)).toEqual([['a', 'b', 'c']]);
  });
});
