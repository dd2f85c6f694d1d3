import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../../db/client.ts';
import { runSync } from '../../../src/app/sync.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { serviceEnv, syncRuns, until } from '../jobs/support.ts';
import { type OwnPostgres, startOwnPostgres } from './support.ts';

/*
 * A database URL's password never reaches a log line, even on the worst path: Postgres goes away
 * mid-sync, so the sync fails and recording its failure fails too (the path that once quoted the
 * URL, password included, as the name of the work).
 */

const APP = '4300000001';
const PASSWORD = 'pw-that-must-never-be-logged';
let pg: OwnPostgres;
let database: Database;
let sim: Simulator;

beforeAll(async () => {
  pg = await startOwnPostgres();
  sim = await startSimulator({
    catalog: generateCatalog({ seed: 13, apps: [{ id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 2 }] }),
  });
}, 120_000);

afterAll(async () => {
  await sim?.close();
  await database?.close().catch(() => {});
  await pg?.remove();
});

describe('a database URL with a password', () => {
  it('never appears in a log line when a sync and the record of its failure both fail', async () => {
    // Trust authentication accepts any password: the URL carries one as a production URL would.
    const url = pg.url.replace('postgres@', `postgres:${PASSWORD}@`);
    database = await openDatabase({ databaseUrl: url });
    const env = serviceEnv({
      databaseUrl: url,
      redisUrl: 'redis://127.0.0.1:1',
      prefix: 'x',
      simulatorUrl: sim.baseUrl,
    });
    const ctx = testContext(database.db, env, { captureLogs: true });
    await createProject(ctx, sim, 'leak', APP);
    sim.setLatency(1_000);
    const app = {
      ...ctx,
      queue: () => Promise.reject(new Error('no queue here')),
      queueEvents: () => Promise.reject(new Error('no queue here')),
    };
    const sync = runSync(app, { projectId: 'leak' }).then(
      () => 'succeeded',
      (error: unknown) => error,
    );
    await until(
      async () => (await syncRuns(ctx.db, 'leak')).some((r) => r.status === 'running'),
      'the sync to run',
    );
    await pg.stop();
    const outcome = await sync;
    sim.setLatency(0);
    expect(outcome).toBeInstanceOf(Error);
    // The path that matters ran: recording the failure failed and was logged.
    expect(ctx.logs()).toContain('could not mark the sync run as failed');
    expect(ctx.logs()).not.toContain(PASSWORD);
    expect(String((outcome as Error).message)).not.toContain(PASSWORD);
    await pg.start();
  }, 120_000);
});
