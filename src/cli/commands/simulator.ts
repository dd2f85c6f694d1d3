import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.ts';
import {
  countProducts,
  loadCatalogFile,
  p8FileName,
  publicKeyFromPrivate,
  type Simulator,
  sampleCatalog,
  startSimulator,
} from '../../simulator/index.ts';
import { type CliContext, runCommand, withJson } from '../context.ts';

interface SimulatorOptions {
  json?: boolean;
  port?: string;
  catalog?: string;
  host?: string;
  publicUrl?: string;
}

export const DEFAULT_SIMULATOR_PORT = 4010;

export function registerSimulator(program: Command): void {
  withJson(
    program
      .command('simulator')
      .description('run the App Store Connect simulator')
      .option('--port <n>', `port to listen on (default ${DEFAULT_SIMULATOR_PORT}; 0 picks a free one)`)
      .option('--catalog <file>', 'catalog JSON file')
      .option('--host <address>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 in a container)')
      .option('--public-url <url>', 'base URL put in links (default: from the request Host header)'),
  ).action((options: SimulatorOptions) => runCommand(options, (ctx) => runSimulator(ctx, options)));
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SIMULATOR_PORT;
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65_535) {
    throw new InvalidInputError('--port', 'must be a whole number from 0 to 65535 (0 picks a free port).');
  }
  return port;
}

interface ReadyKey {
  keyId: string;
  issuerId: string;
  p8Path: string;
}

/**
 * The operator's key lives under <DATA_DIR>/simulator/ and is reused by later runs, so
 * credentials saved in the worker keep working after the simulator restarts.
 */
async function readyKey(sim: Simulator, dir: string): Promise<ReadyKey> {
  const recordPath = join(dir, 'key.json');
  try {
    const saved = JSON.parse(await readFile(recordPath, 'utf8')) as { keyId: string; issuerId: string };
    const p8Path = join(dir, p8FileName(saved.keyId));
    await access(p8Path);
    const publicKeyPem = publicKeyFromPrivate(await readFile(p8Path, 'utf8'));
    sim.keys.register({ keyId: saved.keyId, issuerId: saved.issuerId, publicKeyPem, role: 'ADMIN' });
    return { keyId: saved.keyId, issuerId: saved.issuerId, p8Path };
  } catch {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const created = await sim.createKey({ role: 'ADMIN', dir });
    await writeFile(
      recordPath,
      JSON.stringify({ keyId: created.keyId, issuerId: created.issuerId }, null, 2),
    );
    return { keyId: created.keyId, issuerId: created.issuerId, p8Path: created.p8Path! };
  }
}

async function runSimulator(ctx: CliContext, options: SimulatorOptions): Promise<void> {
  const port = parsePort(options.port);
  const catalog = options.catalog ? await loadCatalogFile(options.catalog) : sampleCatalog();
  const sim = await startSimulator({
    catalog,
    port,
    ...(options.host ? { host: options.host } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    logger: ctx.logger,
    onRequest: (entry) =>
      ctx.logger.debug(
        {
          method: entry.method,
          path: entry.path,
          status: entry.status,
          keyId: entry.keyId,
          note: entry.note,
        },
        'simulator request',
      ),
  }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new InvalidInputError(
        '--port',
        `${port} is already in use; pass another --port (0 picks a free one).`,
      );
    }
    throw error;
  });
  try {
    const key = await readyKey(sim, join(ctx.config.dataDir, 'simulator'));
    const apps = sim.catalog.apps.map((app) => ({ id: app.id, bundleId: app.bundleId, name: app.name }));
    if (options.json) {
      // One line, so a script can read it while the simulator keeps running.
      process.stdout.write(
        `${JSON.stringify({ ok: true, baseUrl: sim.baseUrl, controlUrl: `${sim.baseUrl}/_simulator`, key, apps })}\n`,
      );
    } else {
      process.stdout.write(
        [
          `App Store Connect simulator listening on ${sim.baseUrl}`,
          `  catalog:     ${apps.length} app(s), ${countProducts(catalog)} products`,
          ...apps.map((app) => `               ${app.id}  ${app.bundleId}  ${app.name}`),
          `  Key ID:      ${key.keyId}`,
          `  Issuer ID:   ${key.issuerId}`,
          `  Private key: ${key.p8Path}`,
          `  control:     ${sim.baseUrl}/_simulator`,
          '',
          `Point the worker at it: APP_STORE_CONNECT_BASE_URL=${sim.baseUrl}`,
          `  catalog-sync credentials set <project> --key-id ${key.keyId} --issuer-id ${key.issuerId} \\`,
          `    --private-key-file ${key.p8Path}`,
          'Stop with Ctrl-C.',
          '',
        ].join('\n'),
      );
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  } finally {
    await sim.close();
  }
}
