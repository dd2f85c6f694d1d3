import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { jsonOf } from '../../support/cli.ts';
import { DEADLINE_MS } from '../../support/wait.ts';
import { freePort, serviceEnv, spawnWorker, started, useJobsHarness } from '../jobs/support.ts';

/*
 * The whole platform path over HTTP from another language: a Python script (standard library
 * only) against `catalog-sync serve` as a real process, with a real worker process doing the
 * queued work against the simulator, over real Postgres and Redis. The token comes from the CLI.
 */

const APP = '1000000001';
const PROJECT = 'py-platform-42';
const harness = useJobsHarness({
  catalog: {
    seed: 24,
    apps: [
      { id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 2, grace: {} },
      { id: '1000000002', iaps: 1, groups: 0, subscriptionsPerGroup: 0 },
    ],
    details: { iapOfferCodes: 1 },
  },
});

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

/** `catalog-sync serve --port 0 --json`: resolves with its JSON line and the stderr log lines so far. */
async function startServe(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [path.resolve('bin/catalog-sync.js'), 'serve', '--port', '0', '--json'],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout?.setEncoding('utf8');
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start; stderr: ${stderr}`)), DEADLINE_MS);
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const first = out.split('\n').find((l) => l.startsWith('{"ok"'));
      if (first) {
        clearTimeout(timer);
        resolve(first);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}); stderr: ${stderr}`)));
  });
  return { info: JSON.parse(line) as { api: string; port: number }, stderr: () => stderr };
}

function runPython(script: string, env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'python3',
      [script],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: DEADLINE_MS + 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('the platform path from Python over HTTP', () => {
  it('saves a key, verifies, selects, syncs, reads prices, attributes a transaction, reads revenue and registers a webhook', async () => {
    const services = harness.services();
    const created = await harness.cli([
      'tokens',
      'create',
      '--name',
      'python-platform',
      '--scope',
      'write',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const token = jsonOf(created).token as string;
    expect(token).toMatch(/^cst_tok_[0-9a-f]{16}_/);

    const metricsPort = await freePort();
    const worker = spawnWorker(serviceEnv(services, { METRICS_PORT: String(metricsPort) }));
    const serve = await startServe(serviceEnv(services, { WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true' }));
    await worker.waitForLog(started);

    const key = await harness.sim().createKey({ role: 'APP_MANAGER', appIds: 'all' });
    const folder = mkdtempSync(path.join(tmpdir(), 'catalog-sync-py-'));
    const p8 = path.join(folder, `AuthKey_${key.keyId}.p8`);
    writeFileSync(p8, key.privateKeyPem);
    const result = await runPython(path.resolve('test/integration/http/platform_flow.py'), {
      API_URL: serve.info.api,
      API_TOKEN: token,
      PROJECT_ID: PROJECT,
      KEY_ID: key.keyId,
      ISSUER_ID: key.issuerId,
      P8_FILE: p8,
      APP_ID: APP,
      WEBHOOK_URL: 'http://127.0.0.1:9/catalog-sync',
      DEADLINE_S: String(DEADLINE_MS / 1000),
    });
    expect(result.code, `${result.stderr}\nworker: ${worker.stderr().slice(-2000)}`).toBe(0);
    const seen = JSON.parse(result.stdout) as Record<string, unknown>;
    const app = harness.sim().catalog.apps.find((a) => a.id === APP)!;
    expect(seen).toMatchObject({
      verifiedApps: [APP, '1000000002'],
      listedApps: [APP, '1000000002'],
      selected: APP,
      runStatus: 'succeeded',
      products: app.iaps.length + app.groups.flatMap((g) => g.subscriptions).length,
      problem: { kind: 'invalid_input', field: 'appStoreID' },
    });
    expect((seen.attributed as { customerPrice: string }).customerPrice).toMatch(/^\d+(\.\d+)?$/);

    // The transaction attributed over HTTP is stored with the price in force and its proceeds, and
    // revenue for its day is exactly it.
    const stored = seen.storedAttribution as {
      transactionId: string;
      currency: string;
      customerPrice: string;
      proceeds: string;
      revenueDate: string;
      expected: { customerPrice: string; proceeds: string };
    };
    expect(stored).toMatchObject({ transactionId: '7000000001', kind: 'first_purchase', basis: 'exact' });
    expect({ customerPrice: stored.customerPrice, proceeds: stored.proceeds }).toEqual(stored.expected);
    const [row] = rowsOf<{ price: string; proceeds: string }>(
      await harness
        .db()
        .db.execute(
          sql`select customer_price::text as price, proceeds::text as proceeds from transaction_attributions where project_id = ${PROJECT} and transaction_id = '7000000001'`,
        ),
    );
    expect(row).toEqual({ price: stored.customerPrice, proceeds: stored.proceeds });
    const total = {
      currency: stored.currency,
      customerPrice: stored.customerPrice,
      proceeds: stored.proceeds,
    };
    expect(seen.revenue).toEqual({
      rows: [{ key: stored.revenueDate.slice(0, 10), ...total, unknownProceeds: 0, count: 1 }],
      totals: [{ ...total, unknownProceeds: 0, count: 1 }],
    });

    // The sync request is recorded in Postgres, and the worker ran it (one run, trigger manual).
    const runs = rowsOf<{ trigger: string; status: string }>(
      await harness.db().db.execute(sql`select trigger, status from sync_runs where project_id = ${PROJECT}`),
    );
    expect(runs).toEqual([{ trigger: 'manual', status: 'succeeded' }]);
    const [hook] = rowsOf<{ secret: string }>(
      await harness
        .db()
        .db.execute(
          sql`select secret_encrypted as secret from webhook_endpoints where id = ${seen.webhook as string}`,
        ),
    );
    expect(hook!.secret).not.toMatch(/whsec_/);

    // Each request was logged with the token's name, never its value.
    expect(serve.stderr()).toContain('"tokenName":"python-platform"');
    expect(serve.stderr()).not.toContain(token);

    // The worker serves the same API beside its probes.
    const base = `http://127.0.0.1:${metricsPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const workerStatus = await fetch(`${base}/api/v1/projects/${PROJECT}/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(workerStatus.status).toBe(200);
    expect(((await workerStatus.json()) as { app: { appStoreId: string } }).app.appStoreId).toBe(APP);
  });
});
