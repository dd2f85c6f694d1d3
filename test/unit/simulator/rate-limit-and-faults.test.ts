import { describe, expect, it } from 'vitest';
import { firstError, get, keyWithToken, mintToken, smallCatalog, useSimulator } from './helpers.ts';

describe('rate limit (per key, rolling hour)', async () => {
  let clock = Date.now();
  const sim = await useSimulator({ catalog: smallCatalog(), rateLimit: { perHour: 5 }, now: () => clock });
  const a = await sim.createKey();
  const b = await sim.createKey();

  it('counts down in X-Rate-Limit, answers 429 past the budget, leaves another key alone', async () => {
    const token = await mintToken(a, { nowMs: clock });
    const headers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await get(sim, '/v1/apps', token);
      expect(reply.status).toBe(200);
      headers.push(reply.headers.get('x-rate-limit')!);
    }
    expect(headers.at(0)).toBe('user-hour-lim:5;user-hour-rem:4;');
    expect(headers.at(-1)).toBe('user-hour-lim:5;user-hour-rem:0;');
    const refused = await get(sim, '/v1/apps', token);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-rate-limit')).toBe('user-hour-lim:5;user-hour-rem:0;');
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(firstError(refused)).toMatchObject({
      code: 'RATE_LIMIT_EXCEEDED',
      title: 'The request rate limit has been reached.',
      detail:
        "We've received too many requests for this API. Please wait and try again or slow down your request rate.",
    });
    const other = await get(sim, '/v1/apps', await mintToken(b, { nowMs: clock }));
    expect(other.status).toBe(200);
    expect(other.headers.get('x-rate-limit')).toBe('user-hour-lim:5;user-hour-rem:4;');
  });

  it('sends Retry-After when configured', async () => {
    sim.setRateLimit({ retryAfterSeconds: 30 });
    const refused = await get(sim, '/v1/apps', await mintToken(a, { nowMs: clock }));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    sim.setRateLimit({ retryAfterSeconds: null });
  });

  it('gives the budget back as the hour rolls', async () => {
    clock += 61 * 60 * 1000;
    const reply = await get(sim, '/v1/apps', await mintToken(a, { nowMs: clock }));
    expect(reply.status).toBe(200);
    expect(reply.headers.get('x-rate-limit')).toBe('user-hour-lim:5;user-hour-rem:4;');
  });

  it('honours a per-key budget', async () => {
    const { token } = await keyWithToken(sim, { rateLimitPerHour: 1 });
    // The token was minted on the real clock; move the simulator's clock back to it.
    clock = Date.now();
    expect((await get(sim, '/v1/apps', token)).headers.get('x-rate-limit')).toBe(
      'user-hour-lim:1;user-hour-rem:0;',
    );
    expect((await get(sim, '/v1/apps', token)).status).toBe(429);
  });
});

describe('fault injection', async () => {
  const sim = await useSimulator({ catalog: smallCatalog() });
  const { token } = await keyWithToken(sim);
  const app = sim.catalog.apps[0]!;
  const iapPath = `/v1/apps/${app.id}/inAppPurchasesV2`;

  it('a status for the Nth matching request, once', async () => {
    sim.faults.clear();
    sim.faults.add({ path: '/v1/apps/{id}/inAppPurchasesV2', nth: 2, status: 503, retryAfterSeconds: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await get(sim, iapPath, token));
    expect(statuses.map((r) => r.status)).toEqual([200, 503, 200]);
    expect(statuses[1]!.headers.get('content-type')).toMatch(/text\/html/);
    expect(statuses[1]!.headers.get('retry-after')).toBe('2');
    // Other endpoints were never affected.
    expect((await get(sim, '/v1/apps', token)).status).toBe(200);
  });

  it('a status N times, then always by path pattern, until cleared', async () => {
    sim.faults.clear();
    sim.faults.add({ path: iapPath, status: 502, times: 2 });
    const first = [];
    for (let i = 0; i < 3; i++) first.push((await get(sim, iapPath, token)).status);
    expect(first).toEqual([502, 502, 200]);
    sim.faults.add({ path: /subscriptionGroups/, status: 500, times: 'always' });
    for (let i = 0; i < 3; i++) {
      const reply = await get(sim, `/v1/apps/${app.id}/subscriptionGroups`, token);
      expect(reply.status).toBe(500);
      expect(firstError(reply).code).toBe('UNEXPECTED_ERROR');
    }
    sim.faults.clear();
    expect((await get(sim, `/v1/apps/${app.id}/subscriptionGroups`, token)).status).toBe(200);
  });

  it('a 429 fault carries Apple’s body and an optional Retry-After', async () => {
    sim.faults.clear();
    sim.faults.add({ path: iapPath, status: 429, retryAfterSeconds: 7 });
    const reply = await get(sim, iapPath, token);
    expect(reply.status).toBe(429);
    expect(reply.headers.get('retry-after')).toBe('7');
    expect(firstError(reply).code).toBe('RATE_LIMIT_EXCEEDED');
  });

  it('a connection reset', async () => {
    sim.faults.clear();
    sim.faults.add({ path: iapPath, reset: true });
    await expect(
      fetch(`${sim.baseUrl}${iapPath}`, { headers: { authorization: `Bearer ${token}` } }),
    ).rejects.toThrow();
    expect((await get(sim, iapPath, token)).status).toBe(200);
    expect(sim.requests.some((entry) => entry.note === 'fault reset' && entry.status === 0)).toBe(true);
  });

  it('a malformed body (200, not JSON)', async () => {
    sim.faults.clear();
    sim.faults.add({ path: iapPath, body: 'malformed' });
    const response = await fetch(`${sim.baseUrl}${iapPath}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow(SyntaxError);
  });

  it('a truncated body (Content-Length larger than what arrives)', async () => {
    sim.faults.clear();
    sim.faults.add({ path: iapPath, body: 'truncated' });
    const response = await fetch(`${sim.baseUrl}${iapPath}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it('added latency, per rule and globally', async () => {
    sim.faults.clear();
    sim.faults.add({ path: iapPath, latencyMs: 120 });
    let started = performance.now();
    expect((await get(sim, iapPath, token)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
    sim.faults.clear();
    sim.setLatency(60);
    started = performance.now();
    await get(sim, '/v1/apps', token);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    sim.setLatency(0);
  });
});

describe('accounting', async () => {
  const sim = await useSimulator({ catalog: smallCatalog() });
  const a = await keyWithToken(sim);
  const b = await keyWithToken(sim);
  const app = sim.catalog.apps[0]!;

  it('records every request and counts them per endpoint template and key', async () => {
    sim.resetRequests();
    await get(sim, '/v1/apps?filter[bundleId]=com.example.app', a.token);
    await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2?limit=2`, a.token);
    await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2?limit=200`, a.token);
    await get(sim, `/v1/subscriptionGroups/${app.groups[0]!.id}/subscriptions`, b.token);
    await get(sim, '/v1/apps');
    expect(sim.requests).toHaveLength(5);
    expect(sim.requests[0]).toMatchObject({
      method: 'GET',
      path: '/v1/apps',
      query: { 'filter[bundleId]': 'com.example.app' },
      status: 200,
      keyId: a.key.keyId,
      endpoint: 'GET /v1/apps',
    });
    expect(sim.requests[0]!.at).toBeInstanceOf(Date);
    expect(sim.requests[4]).toMatchObject({ status: 401, keyId: null });
    expect(sim.requestCounts()).toEqual({
      'GET /v1/apps': 2,
      'GET /v1/apps/{id}/inAppPurchasesV2': 2,
      'GET /v1/subscriptionGroups/{id}/subscriptions': 1,
    });
    expect(sim.requestCounts({ keyId: b.key.keyId })).toEqual({
      'GET /v1/subscriptionGroups/{id}/subscriptions': 1,
    });
    sim.resetRequests();
    expect(sim.requests).toHaveLength(0);
    expect(sim.requestCounts()).toEqual({});
  });
});
