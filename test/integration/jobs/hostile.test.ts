import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { SYNC_JOB } from '../../../src/queue/contract.ts';
import { createProject } from '../../support/context.ts';
import { serviceEnv, spawnWorker, started, until, useJobsHarness, type WorkerProcess } from './support.ts';

/*
 * A real worker process behind a hostile App Store Connect. A local proxy answers some
 * apps with a gzip bomb (1 MiB that inflates to 1 GiB), a 200 MB JSON page or a 20 MB error
 * detail, and passes every other request to the simulator. Each hostile sync must fail once,
 * not retried, with the worker's peak RSS under RSS_BOUND_MIB and a few KB of text stored.
 */

const BOMB_APP = '4100000001';
const BIG_APP = '4100000002';
const DETAIL_APP = '4100000003';
const NUL_APP = '4100000004';
const FINE_APP = '4100000005';

/** Peak RSS (VmHWM) the worker must stay under through all hostile syncs. Measured: see the report. */
const RSS_BOUND_MIB = 400;

const harness = useJobsHarness({
  catalog: {
    seed: 41,
    apps: [BOMB_APP, BIG_APP, DETAIL_APP, NUL_APP, FINE_APP].map((id) => ({
      id,
      iaps: 3,
      groups: 1,
      subscriptionsPerGroup: 2,
    })),
  },
  queue: 'plain',
});
const { db: getDb, sim, services, ctx, producer, redis } = harness;

let proxy: http.Server;
let proxyUrl: string;
let worker: WorkerProcess;
const hostileRequests: Record<string, number> = { bomb: 0, big: 0, detail: 0 };

/** 64 gzip members of 16 MiB of spaces: ~1 MiB on the wire, 1 GiB once inflated. */
function gzipBomb(): Buffer {
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024, 0x20), { level: 9 });
  return Buffer.concat(Array.from({ length: 64 }, () => member));
}

/** A valid JSON page of about `totalBytes`, written lazily with backpressure. */
function streamBigPage(res: http.ServerResponse, totalBytes: number): void {
  const item = JSON.stringify({
    type: 'inAppPurchases',
    id: '1',
    attributes: { name: 'x'.repeat(900), productId: 'p', inAppPurchaseType: 'CONSUMABLE', state: 'APPROVED' },
  });
  const chunk = Buffer.from(`${Array.from({ length: 1000 }, () => item).join(',')},`);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"data":{"type":"apps","id":"1","relationships":{}},"included":[');
  let written = 0;
  const pump = () => {
    while (written < totalBytes) {
      written += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(`${item}]}`);
  };
  res.on('close', () => {
    written = totalBytes;
  });
  pump();
}

function startProxy(bomb: Buffer): Promise<void> {
  proxy = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith(`/v1/apps/${BOMB_APP}`)) {
      hostileRequests.bomb!++;
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(bomb);
      return;
    }
    if (url.startsWith(`/v1/apps/${BIG_APP}`)) {
      hostileRequests.big!++;
      streamBigPage(res, 200 * 1024 * 1024);
      return;
    }
    if (url.startsWith(`/v1/apps/${DETAIL_APP}`)) {
      hostileRequests.detail!++;
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          errors: [
            {
              status: '400',
              code: 'PARAMETER_ERROR.INVALID',
              title: 'A parameter has an invalid value',
              detail: `The value is wrong. ${'D'.repeat(20 * 1024 * 1024)}`,
            },
          ],
        }),
      );
      return;
    }
    const target = new URL(url, sim().baseUrl);
    const upstream = http.request(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) =>
    proxy.listen(0, '127.0.0.1', () => {
      proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

async function runFor(projectId: string) {
  return rowsOf<{ status: string; error_kind: string | null; error_message: string | null }>(
    await getDb().db.execute(
      sql`select status, error_kind, error_message from sync_runs where project_id = ${projectId} order by started_at`,
    ),
  );
}

async function finished(jobId: string) {
  await until(
    async () => {
      const state = await producer().queue.getJobState(jobId);
      return state === 'failed' || state === 'completed';
    },
    `job ${jobId} to finish`,
    60_000,
    100,
  );
  // Read after the state is final, so returnvalue / failedReason are there.
  return (await producer().queue.getJob(jobId))!;
}

/** Every byte Redis holds for a job (its hash, logs aside). */
async function redisBytesOfJob(jobId: string): Promise<number> {
  const fields = await redis.client.hgetall(`${redis.prefix}:catalog-sync:${jobId}`);
  return Object.entries(fields).reduce((sum, [key, value]) => sum + key.length + value.length, 0);
}

beforeAll(async () => {
  await startProxy(gzipBomb());
  for (const [project, app] of [
    ['bomb', BOMB_APP],
    ['big', BIG_APP],
    ['detail', DETAIL_APP],
    ['nul', NUL_APP],
    ['fine', FINE_APP],
  ] as const) {
    await createProject(ctx(), sim(), project, app);
  }
  const nulApp = sim().catalog.apps.find((app) => app.id === NUL_APP)!;
  nulApp.iaps[0]!.name = 'Gold\u0000Coins';
  nulApp.iaps[1]!.name = 'lone \ud800 surrogate';
  worker = spawnWorker(serviceEnv(services(), { APP_STORE_CONNECT_BASE_URL: proxyUrl }));
  await worker.waitForLog(started);
}, 60_000);

afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  await new Promise((resolve) => proxy?.close(resolve));
});

describe('a worker behind a hostile App Store Connect', () => {
  it('fails a gzip bomb and a 200 MB page once each, not retried, with bounded memory', async () => {
    const rssBefore = peakRssMiB(worker.child.pid!);
    const opts = { attempts: 3, backoff: { type: 'fixed', delay: 10 } };
    const bomb = await producer().queue.add(SYNC_JOB, { projectId: 'bomb', trigger: 'manual' }, opts);
    const big = await producer().queue.add(SYNC_JOB, { projectId: 'big', trigger: 'manual' }, opts);
    for (const [job, name] of [
      [bomb, 'bomb'],
      [big, 'big'],
    ] as const) {
      const done = await finished(job.id!);
      expect(await done.getState()).toBe('failed');
      expect(done.attemptsMade).toBe(1);
      expect(done.failedReason).toContain('APP_STORE_CONNECT_MAX_RESPONSE_BYTES');
      const runs = await runFor(name);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ status: 'failed', error_kind: 'limit_exceeded' });
      expect(hostileRequests[name]).toBe(1);
    }
    const peak = peakRssMiB(worker.child.pid!);
    console.log(
      `worker peak RSS: ${rssBefore.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB after the hostile syncs`,
    );
    expect(peak).toBeLessThan(RSS_BOUND_MIB);
  }, 120_000);

  it('keeps a 20 MB error detail to a few KB in Redis, Postgres and the log', async () => {
    const job = await producer().queue.add(SYNC_JOB, { projectId: 'detail', trigger: 'manual' });
    const done = await finished(job.id!);
    expect(await done.getState()).toBe('failed');
    expect(done.failedReason).toContain('PARAMETER_ERROR.INVALID');
    expect(done.failedReason.length).toBeLessThan(2_500);
    expect(await redisBytesOfJob(job.id!)).toBeLessThan(8_000);
    const [run] = await runFor('detail');
    expect(run!.error_message!.length).toBeLessThan(2_500);
    await worker.waitForLog((line) => line.jobId === job.id && line.msg === 'job failed: not retried');
    const longest = Math.max(...worker.logs.map((line) => JSON.stringify(line).length));
    expect(longest).toBeLessThan(5_000);
  }, 60_000);

  it('cleans a NUL and a lone surrogate (with a warning naming the product) and other projects sync', async () => {
    const nul = await producer().queue.add(SYNC_JOB, { projectId: 'nul', trigger: 'manual' });
    const fine = await producer().queue.add(SYNC_JOB, { projectId: 'fine', trigger: 'manual' });
    expect(await (await finished(nul.id!)).getState()).toBe('completed');
    expect(await (await finished(fine.id!)).getState()).toBe('completed');
    const nulApp = sim().catalog.apps.find((app) => app.id === NUL_APP)!;
    const [stored] = rowsOf<{ reference_name: string }>(
      await getDb().db.execute(
        sql`select reference_name from products where project_id = 'nul' and apple_id = ${nulApp.iaps[0]!.id}`,
      ),
    );
    expect(stored!.reference_name).toBe('GoldCoins');
    const warning = await worker.waitForLog(
      (line) => typeof line.msg === 'string' && line.msg.includes(`in-app purchase ${nulApp.iaps[1]!.id}`),
    );
    expect(warning.msg).toContain('referenceName');
    // Cleaning is stable: the next sync records no change.
    const again = await producer().queue.add(SYNC_JOB, { projectId: 'nul', trigger: 'manual' });
    const second = await finished(again.id!);
    expect((second.returnvalue as { unchanged: boolean }).unchanged).toBe(true);
  }, 60_000);

  it('rejects a payload with a 1 MB unknown key briefly, and removes a rejected payload from Redis', async () => {
    const secret = 'SECRET-LOOKING-PRIVATE-KEY-MATERIAL';
    const job = await producer().queue.add(SYNC_JOB, {
      projectId: 'fine',
      trigger: 'manual',
      privateKey: secret,
      ['k'.repeat(1024 * 1024)]: 1,
    } as never);
    const done = await finished(job.id!);
    expect(await done.getState()).toBe('failed');
    expect(done.failedReason).toContain('Invalid sync-catalog payload');
    expect(done.failedReason.length).toBeLessThan(2_000);
    const fields = await redis.client.hgetall(`${redis.prefix}:catalog-sync:${job.id}`);
    expect(JSON.stringify(fields)).not.toContain(secret);
    expect(await redisBytesOfJob(job.id!)).toBeLessThan(8_000);
  }, 60_000);
});
