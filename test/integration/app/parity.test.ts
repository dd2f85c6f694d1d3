import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { jsonOf } from '../../support/cli.ts';
import { useJobsHarness } from '../jobs/support.ts';

/*
 * One implementation per operation: the same onboarding-and-scheduling scenario runs once through
 * the public API and once through the CLI (child processes), for two projects on the same key and
 * app. Their results and the rows and jobs they leave must be the same, up to the project id,
 * job ids and times.
 */

const APP_ID = '1000000001';
const harness = useJobsHarness({
  catalog: { seed: 5, apps: [{ id: APP_ID, iaps: 3, groups: 1, subscriptionsPerGroup: 2 }] },
  api: true,
});
const { db, api, sim, cli, redis } = harness;

const VOLATILE =
  /(^|\.)(jobId|verifiedAt|startedAt|finishedAt|nextRunAt|offsetMs|updatedAt|discoveredAt|createdAt|scheduleUpdatedAt|id|encryptionKeyId)$/;

/** JSON with the project id, ids and times masked, so two projects' results compare equal. */
function normalise(value: unknown, projectId: string, path = ''): unknown {
  if (value instanceof Date) return normalise(value.toISOString(), projectId, path);
  if (Array.isArray(value)) return value.map((item) => normalise(item, projectId, path));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([key]) => key !== 'ok' && key !== 'next')
        .map(([key, inner]) => {
          const at = path ? `${path}.${key}` : key;
          return [key, VOLATILE.test(at) && inner !== null ? '<volatile>' : normalise(inner, projectId, at)];
        }),
    );
  }
  return typeof value === 'string' ? value.split(projectId).join('<project>') : value;
}

async function rowsFor(projectId: string) {
  const query = async (text: string) =>
    normalise(rowsOf(await db().db.execute(sql.raw(text.replaceAll('$P', `'${projectId}'`)))), projectId);
  return {
    project: await query(
      'select app_store_id, bundle_id, app_name, schedule_every_seconds, schedule_cron from projects where id = $P',
    ),
    credentials: await query(
      'select key_id, issuer_id, status, status_detail from app_store_credentials where project_id = $P',
    ),
    apps: await query(
      'select app_store_id, bundle_id, name, sku from discovered_apps where project_id = $P order by app_store_id',
    ),
  };
}

async function jobsFor(projectId: string) {
  const { Queue } = await import('bullmq');
  const queue = new Queue('catalog-sync', { connection: { url: redis.url }, prefix: redis.prefix });
  try {
    const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
    return jobs
      .filter((job) => (job.data as { projectId?: string }).projectId === projectId)
      .map((job) => normalise({ name: job.name, data: job.data, attempts: job.opts.attempts }, projectId))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  } finally {
    await queue.close();
  }
}

describe('the API and the CLI run the same operations', () => {
  it('save → verify → apps → select → schedule → sync request → status → unschedule: same results, same rows', async () => {
    const key = await sim().createKey({ role: 'ADMIN' });
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const keyFile = path.join(mkdtempSync(path.join(tmpdir(), 'parity-')), `AuthKey_${key.keyId}.p8`);
    writeFileSync(keyFile, key.privateKeyPem);

    const viaApi: unknown[] = [];
    const A = 'parity-api';
    viaApi.push(
      await api().saveCredentials(A, {
        keyId: key.keyId,
        issuerId: key.issuerId,
        privateKey: key.privateKeyPem,
        fileName: path.basename(keyFile),
      }),
    );
    viaApi.push(await api().verifyCredentials(A));
    viaApi.push(await api().listApps(A));
    viaApi.push(await api().selectApp(A, APP_ID));
    viaApi.push(await api().schedule(A, { every: '6h' }));
    viaApi.push(await api().requestSync(A));
    viaApi.push(await api().requestSync(A));
    viaApi.push(await api().getStatus(A));

    const viaCli: unknown[] = [];
    const C = 'parity-cli';
    const run = async (...args: string[]) => {
      const result = await cli([...args, '--json']);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      return jsonOf(result);
    };
    viaCli.push(
      await run(
        'credentials',
        'set',
        C,
        '--key-id',
        key.keyId,
        '--issuer-id',
        key.issuerId,
        '--private-key-file',
        keyFile,
      ),
    );
    const { projectId: _p, ...verified } = await run('verify', C);
    viaCli.push(verified);
    viaCli.push((await run('apps', C)).apps);
    const { projectId: _q, ...selected } = await run('select-app', C, APP_ID);
    viaCli.push(selected);
    viaCli.push(await run('schedule', C, '--every', '6h'));
    viaCli.push(await run('sync', C));
    viaCli.push(await run('sync', C));
    viaCli.push(await run('status', C));

    expect(normalise(viaCli, C)).toEqual(normalise(viaApi, A));
    expect(await rowsFor(C)).toEqual(await rowsFor(A));
    expect(await jobsFor(C)).toEqual(await jobsFor(A));
    // The scenario did reach everything: a verification, the schedule's next sync and one
    // requested sync (the second request was deduplicated) for each project.
    expect(
      (await jobsFor(A)).map((job) => {
        const { name, data } = job as { name: string; data: { trigger?: string } };
        return `${name}:${data.trigger ?? ''}`;
      }),
    ).toEqual(['sync-catalog:manual', 'sync-catalog:schedule', 'verify-credentials:']);

    const unscheduledApi = await api().unschedule(A);
    const unscheduledCli = await run('unschedule', C);
    expect(normalise(unscheduledCli, C)).toEqual(normalise(unscheduledApi, A));
    expect(unscheduledApi.removed).toBe(true);
    expect(await rowsFor(C)).toEqual(await rowsFor(A));
    // Eleven CLI processes one after the other: generous for a busy machine.
  }, 240_000);
});
