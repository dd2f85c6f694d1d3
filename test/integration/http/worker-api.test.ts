import { describe, expect, it } from 'vitest';
import { createToken } from '../../../src/tokens/index.ts';
import { freePort, serviceEnv, spawnWorker, useJobsHarness } from '../jobs/support.ts';

/*
 * The worker's HTTP server serves the API beside its probes in a group of processes too: the
 * supervisor (which holds no database of its own otherwise) answers /api/v1 with a connection it
 * opens; API_IN_WORKER=false leaves it out.
 */

const harness = useJobsHarness({ catalog: { seed: 26, apps: [] } });

describe('the API on the worker group’s HTTP server', () => {
  it('answers /api/v1 beside /healthz under a supervisor, and not when API_IN_WORKER is false', async () => {
    const { token } = await createToken(harness.ctx(), { name: 'ops', scope: 'read' });
    const port = await freePort();
    const group = spawnWorker(serviceEnv(harness.services(), { METRICS_PORT: String(port) }), [
      '--processes',
      '2',
    ]);
    await group.waitForLog((line) => line.msg === 'worker group started');
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const schedules = await fetch(`${base}/api/v1/schedules`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(schedules.status).toBe(200);
    expect(await schedules.json()).toEqual({ schedules: [] });
    expect((await fetch(`${base}/api/v1/schedules`)).status).toBe(401);
    group.child.kill('SIGTERM');
    expect((await group.exited).code).toBe(0);

    const without = await freePort();
    const single = spawnWorker(
      serviceEnv(harness.services(), { METRICS_PORT: String(without), API_IN_WORKER: 'false' }),
    );
    await single.waitForLog((line) => line.msg === 'worker started');
    expect((await fetch(`http://127.0.0.1:${without}/healthz`)).status).toBe(200);
    const absent = await fetch(`http://127.0.0.1:${without}/api/v1/schedules`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(absent.status).toBe(404);
    expect(absent.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    single.child.kill('SIGTERM');
    await single.exited;
  });
});
