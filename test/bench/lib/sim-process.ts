import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SimCatalog, saveCatalogFile } from '../../../src/simulator/index.ts';
import { type BenchChild, jsonLine, spawnNode } from './child.ts';
import type { Cleanup } from './cleanup.ts';
import { benchEnv } from './context.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The simulator in a process of its own (`catalog-sync simulator --catalog FILE --json`), driven over its control endpoint. */
export interface SimulatorProcess {
  child: BenchChild;
  baseUrl: string;
  control(method: string, route: string, body?: unknown): Promise<unknown>;
  /** Requests per endpoint template since the last reset. */
  counts(): Promise<Record<string, number>>;
  resetRequests(): Promise<void>;
}

export async function startSimulatorProcess(
  cleanup: Cleanup,
  catalog: SimCatalog,
  settings: { latencyMs?: number; perHour?: number },
): Promise<SimulatorProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'csbench-sim-'));
  cleanup.defer('remove simulator folder', () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'catalog.json');
  await saveCatalogFile(file, catalog);
  const child = spawnNode(
    cleanup,
    'simulator',
    [path.join(ROOT, 'bin/catalog-sync.js'), 'simulator', '--catalog', file, '--port', '0', '--json'],
    // DATA_DIR: the CLI keeps an operator key there; keep it out of the project's .data.
    { env: { ...process.env, ...benchEnv({ DATA_DIR: dir }) } },
  );
  const ready = jsonLine(
    await child.waitForLine((l) => jsonLine(l)?.baseUrl !== undefined, 60_000, 'its base URL'),
  );
  const baseUrl = String(ready?.baseUrl);
  const controlUrl = String(ready?.controlUrl ?? `${baseUrl}/_simulator`);
  const control = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${controlUrl}/${route}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`simulator control ${method} ${route}: ${response.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };
  await control('PUT', 'settings', {
    ...(settings.latencyMs !== undefined ? { latencyMs: settings.latencyMs } : {}),
    ...(settings.perHour !== undefined ? { rateLimit: { perHour: settings.perHour } } : {}),
  });
  return {
    child,
    baseUrl,
    control,
    counts: async () => ((await control('GET', 'counts')) as { counts: Record<string, number> }).counts,
    resetRequests: async () => {
      await control('DELETE', 'requests');
    },
  };
}
