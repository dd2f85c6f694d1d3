import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { listDeliveries } from '../../../src/app/events.ts';
import { addWebhook, enableWebhook } from '../../../src/app/webhooks.ts';
import { type Dispatcher, startDispatcher } from '../../../src/events/dispatcher.ts';
import { emit } from '../../../src/events/emit.ts';
import { jsonOf, runCli } from '../../support/cli.ts';
import { newEncryptionKey, type TestContext, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { until } from '../../support/wait.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/*
 * Endpoint operations against real Postgres, a receiver on loopback verifying every request with
 * `standardwebhooks`, and a dispatcher in this process driven round by round: re-enabling with
 * `--replay-since`, the delivery log's last error for a 410, and the wording of refused input as
 * the CLI shows it (the flag or argument a person typed, what is wrong, what to do).
 */

const getDb = useTestDatabase();
const ENV = {
  CREDENTIALS_ENCRYPTION_KEY: newEncryptionKey(),
  WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true',
  WEBHOOKS_TIMEOUT_MS: '2000',
  WEBHOOKS_RETRY_SCHEDULE_MS: '60000',
  LOG_LEVEL: 'silent',
};
let ctx: TestContext;
let receiver: Receiver;
let dispatcher: Dispatcher;
const env = () => ({ ...ENV, DATABASE_URL: getDb().url, LOG_LEVEL: 'warn' });

beforeAll(async () => {
  ctx = testContext(getDb().db, { ...ENV, DATABASE_URL: getDb().url });
  receiver = await startReceiver();
  // Driven by hand (round()): the loop's own interval is long enough never to interfere.
  dispatcher = startDispatcher({
    ctx: testContext(getDb().db, { ...ENV, DATABASE_URL: getDb().url, EVENTS_DISPATCH_INTERVAL_MS: '60000' }),
  });
  await getDb().db.execute(sql`insert into projects (id) values ('ops'), ('ops-other')`);
});

afterAll(async () => {
  await dispatcher?.close();
  await receiver?.close();
});

const failed = (projectId: string, message: string) =>
  getDb().db.transaction((tx) =>
    emit(tx, {
      type: 'sync.failed',
      projectId,
      payload: {
        version: 1,
        runId: null,
        jobId: null,
        trigger: 'manual',
        attempts: 1,
        errorKind: 'transient',
        errorMessage: message,
      },
    }),
  );

/** Dispatch rounds until `done` holds. */
async function dispatchUntil<T>(
  done: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
): Promise<T> {
  return until(async () => {
    await dispatcher.round();
    return await done();
  }, what);
}

describe('the per-project sequence', () => {
  it('numbers concurrent events of a project 1, 2, 3… in the order of the outbox, without gaps or repeats', async () => {
    await getDb().db.execute(sql`insert into projects (id) values ('ops-seq')`);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => failed('ops-seq', `concurrent ${i}`)));
    // A rolled-back emit leaves no gap either.
    await getDb()
      .db.transaction(async (tx) => {
        await emit(tx, {
          type: 'sync.failed',
          projectId: 'ops-seq',
          payload: {
            version: 1,
            runId: null,
            jobId: null,
            trigger: null,
            attempts: 1,
            errorKind: 'transient',
            errorMessage: 'rolled back',
          },
        });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    const last = await failed('ops-seq', 'after the rollback');
    const rows = rowsOf<{ id: string; project_seq: number }>(
      await getDb().db.execute(
        sql`select id, project_seq::int as project_seq from events where project_id = 'ops-seq' order by seq`,
      ),
    );
    expect(rows.map((r) => r.project_seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set([...ids, last]));
    expect(rows.at(-1)!.id).toBe(last);
  });
});

describe('webhooks enable --replay-since', () => {
  it('sends a re-enabled endpoint, in order, what it missed since then, and nothing it already had', async () => {
    const { endpoint, secret } = await addWebhook(ctx, { url: receiver.url('/replay'), projectId: 'ops' });
    receiver.route('/replay', secret, 'ok');
    const before = await failed('ops', 'before');
    await dispatchUntil(() => receiver.acknowledged('/replay').length === 1, 'the first event');
    const since = new Date();
    await getDb().db.execute(
      sql`update webhook_endpoints set status = 'disabled', disabled_reason = 'test' where id = ${endpoint.id}`,
    );
    const missed = [await failed('ops', 'missed 1'), await failed('ops', 'missed 2')];
    await failed('ops-other', 'another project');
    await dispatcher.round();
    expect(receiver.acknowledged('/replay')).toHaveLength(1);

    const cli = await runCli(
      ['webhooks', 'enable', endpoint.id, '--replay-since', since.toISOString(), '--json'],
      env(),
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(jsonOf(cli)).toMatchObject({
      ok: true,
      endpoint: { id: endpoint.id, status: 'enabled' },
      replayed: { events: 2, deliveries: 2 },
    });
    const got = await dispatchUntil(() => {
      const list = receiver.acknowledged('/replay');
      return list.length === 3 ? list : undefined;
    }, 'the missed events');
    expect(got.map((r) => r.id)).toEqual([before, ...missed]);
    expect(got.every((r) => r.verified)).toBe(true);
    expect(got[1]!.sequence! < got[2]!.sequence!).toBe(true);

    // A replay from before the first event sends nothing it had already received.
    const again = await enableWebhook(ctx, {
      id: endpoint.id,
      replaySince: new Date(since.getTime() - 60_000),
    });
    expect(again.replayed).toEqual({ events: 0, deliveries: 0 });
  });
});

describe('the delivery log', () => {
  it('a 410 leaves the last error filled: the endpoint answered 410 Gone and was disabled', async () => {
    const { endpoint, secret } = await addWebhook(ctx, { url: receiver.url('/gone'), projectId: 'ops' });
    receiver.route('/gone', secret, 410);
    const id = await failed('ops', 'to a gone endpoint');
    const [delivery] = await dispatchUntil(async () => {
      const list = await listDeliveries(ctx, { endpointId: endpoint.id, eventId: id });
      return list[0]?.status === 'failed' ? list : undefined;
    }, 'the 410 recorded');
    expect(delivery).toMatchObject({ lastStatusCode: 410 });
    expect(delivery!.lastError).toMatch(/410 Gone.*disabled/);
    expect(delivery!.log.at(-1)!.error).toMatch(/410 Gone/);
    const shown = await runCli(['deliveries', '--endpoint', endpoint.id], env());
    expect(shown.stdout).toMatch(/410 Gone/);
  });
});

describe('what the CLI says about refused input', () => {
  it.each([
    [
      ['webhooks', 'add', 'https://hooks.example.com/x', '--events', 'catalog.changed,price.changed'],
      /^error: --events: unknown event type "price\.changed"; use some of: .*prices\.changed/,
    ],
    [
      ['webhooks', 'add', 'http://10.0.0.1/hook'],
      /^error: <url>: refused: 10\.0\.0\.1 is a private address, not a public one/,
    ],
    [
      ['webhooks', 'add', 'https://[::127.0.0.1]/hook'],
      /^error: <url>: refused: ::7f00:1 is an IPv4-compatible IPv6 address/,
    ],
    [['webhooks', 'add', 'http://hooks.example.com/x'], /^error: <url>: must use https:\/\//],
    [
      ['webhooks', 'add', 'https://hooks.example.com/x', '--project', 'nope'],
      /^error: Project nope does not exist\. Create it by saving its App Store Connect API key/,
    ],
    [
      ['webhooks', 'enable', 'we_0123456789abcdef0123456789abcdef', '--replay-since', 'yesterday'],
      /^error: --replay-since: /,
    ],
    [
      ['changes', 'ops', '--run', 'changes?since=2026'],
      /^error: --run: must be a sync run id or an event’s changesCursor/,
    ],
    [
      ['changes', 'ops', '--run', 'run:0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b', '--since', '1h'],
      /^error: --run: give either --run or --since/,
    ],
  ])('%j', async (args, message) => {
    const result = await runCli(args, env());
    expect(result.code, result.stdout).toBeGreaterThan(0);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(message);
  });

  it('changes --run lists one run’s rows and takes the event’s cursor as it is', async () => {
    const result = await runCli(
      ['changes', 'ops', '--run', 'run:0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b', '--json'],
      env(),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(jsonOf(result)).toMatchObject({
      ok: true,
      runId: '0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b',
      changes: [],
    });
  });
});
