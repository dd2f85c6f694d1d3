import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { loadConfig } from '../../../src/config/env.ts';
import { apiRouter } from '../../../src/http/api/index.ts';
import { createHttpApp, listen } from '../../../src/http/server.ts';
import { createToken, revokeToken } from '../../../src/tokens/index.ts';
import { type ApiAnswer, useApiHarness } from './support.ts';

/*
 * What the API refuses, and how: each bad request is one clear problem+json answer naming what
 * was wrong, and nothing is stored. Tokens (revocation at once, scopes, the rate limit),
 * idempotency keys (in sequence and concurrently), and no secret at rest, in logs or in answers.
 */

const h = useApiHarness({
  catalog: { seed: 23, apps: [{ id: '1000000001', iaps: 1, groups: 0, subscriptionsPerGroup: 0 }] },
});

async function rows(query: ReturnType<typeof sql>) {
  return rowsOf<Record<string, unknown>>(await h.db().db.execute(query));
}
async function count(table: string): Promise<number> {
  const [row] = await rows(sql`select count(*)::int as n from ${sql.identifier(table)}`);
  return row!.n as number;
}
/** Every row of the tables that could hold a secret, as text. */
async function everythingStored(options: { tokens?: boolean } = {}): Promise<string> {
  const tables = ['api_idempotency_keys', 'app_store_credentials', 'webhook_endpoints', 'projects'];
  // Token rows change as tokens are used (last_used_at): left out when comparing before and after.
  if (options.tokens !== false) tables.push('api_tokens');
  const out: string[] = [];
  for (const table of tables) {
    const dump = await rows(sql`select t::text as row from ${sql.identifier(table)} t`);
    out.push(...dump.map((r) => r.row as string));
  }
  return out.join('\n');
}

async function validKey() {
  const key = await h.sim().createKey({ role: 'APP_MANAGER', appIds: 'all' });
  return { keyId: key.keyId, issuerId: key.issuerId, privateKey: key.privateKeyPem };
}

describe('bad input: one problem answer each, nothing stored', () => {
  it('refuses malformed JSON, an oversized body, an unknown field, a wrong content type and a bad project id', async () => {
    const before = await everythingStored({ tokens: false });
    const key = await validKey();
    const cases: Array<{
      what: string;
      status: number;
      kind: string;
      field?: string;
      answer: Promise<ApiAnswer>;
    }> = [
      {
        what: 'malformed JSON',
        status: 400,
        kind: 'malformed_json',
        field: 'body',
        answer: h.call('PUT', '/projects/p1/credentials', {
          raw: '{"keyId": "ABC',
          headers: { 'content-type': 'application/json' },
        }),
      },
      {
        what: 'a body over the limit',
        status: 413,
        kind: 'body_too_large',
        answer: h.call('PUT', '/projects/p1/credentials', {
          body: { ...key, privateKey: `${key.privateKey}${' '.repeat(20_000)}` },
        }),
      },
      {
        what: 'an unknown field',
        status: 400,
        kind: 'invalid_input',
        field: 'keyID',
        answer: h.call('PUT', '/projects/p1/credentials', { body: { ...key, keyID: key.keyId } }),
      },
      {
        what: 'a .p8 over its bound',
        status: 400,
        kind: 'invalid_input',
        field: 'privateKey',
        answer: h.call('PUT', '/projects/p1/credentials', {
          body: { ...key, privateKey: 'x'.repeat(9_000) },
        }),
      },
      {
        what: 'a wrong content type',
        status: 415,
        kind: 'unsupported_media_type',
        field: 'Content-Type',
        answer: h.call('PUT', '/projects/p1/credentials', {
          raw: new URLSearchParams(key).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      },
      {
        what: 'a project id that is not one',
        status: 400,
        kind: 'invalid_input',
        field: 'projectId',
        answer: h.call('PUT', `/projects/${encodeURIComponent('has spaces')}/credentials`, { body: key }),
      },
      {
        what: 'a bad Key ID',
        status: 400,
        kind: 'invalid_input',
        field: 'keyId',
        answer: h.call('PUT', '/projects/p1/credentials', { body: { ...key, keyId: 'short' } }),
      },
      {
        what: 'an unknown query parameter',
        status: 400,
        kind: 'invalid_input',
        field: 'sinse',
        answer: h.call('GET', '/projects/p1/changes?sinse=24h'),
      },
      {
        what: 'a body on a route that takes none',
        status: 400,
        kind: 'invalid_input',
        field: 'wait',
        answer: h.call('POST', '/projects/p1/credentials/verify', { body: { wait: true } }),
      },
    ];
    for (const c of cases) {
      const answer = await c.answer;
      expect(answer.status, c.what).toBe(c.status);
      expect(answer.headers.get('content-type'), c.what).toMatch(/^application\/problem\+json/);
      expect(answer.body, c.what).toMatchObject({
        status: c.status,
        kind: c.kind,
        type: `urn:catalog-sync:problem:${c.kind}`,
      });
      if (c.field) expect(answer.body.field, c.what).toBe(c.field);
      expect(answer.body.detail.length, c.what).toBeGreaterThan(10);
      expect(JSON.stringify(answer.body), c.what).not.toContain('PRIVATE KEY');
    }
    expect(await everythingStored({ tokens: false })).toBe(before);
  });

  it('answers 404 for an unknown project, 409 for one not ready, 405 for a wrong method', async () => {
    const missing = await h.call('GET', '/projects/nobody/status');
    expect(missing.status).toBe(404);
    expect(missing.body.kind).toBe('not_found');
    await h.call('PUT', '/projects/no-app/credentials', { body: await validKey() });
    const notReady = await h.call('POST', '/projects/no-app/syncs');
    expect(notReady.status).toBe(409);
    expect(notReady.body.detail).toMatch(/app/i);
    // Not an operation of the document, so not through the checking client.
    const wrong = await fetch(`${h.baseUrl()}/api/v1/projects/no-app/status`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${h.tokens().read}` },
    });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect(wrong.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await wrong.json()).toMatchObject({ status: 405, kind: 'method_not_allowed' });
  });
});

describe('a bounded wait', () => {
  it('answers 504 when Verify & Fetch Apps outlasts API_VERIFY_TIMEOUT_MS', async () => {
    await h.call('PUT', '/projects/slow-apple/credentials', { body: await validKey() });
    const config = loadConfig({ ...h.env(), API_VERIFY_TIMEOUT_MS: '1000' });
    const server = await listen(
      createHttpApp({ logger: h.ctx().logger, api: apiRouter({ ctx: { ...h.ctx(), config } }) }),
      0,
      '127.0.0.1',
    );
    const fault = h.sim().faults.add({ path: /^\/v1\/apps/, latencyMs: 3_000, times: 'always' });
    try {
      const started = Date.now();
      const response = await fetch(
        `http://127.0.0.1:${server.port}/api/v1/projects/slow-apple/credentials/verify`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${h.tokens().write}` },
        },
      );
      const body = await response.json();
      h.checker.check(
        'POST',
        '/api/v1/projects/slow-apple/credentials/verify',
        response.status,
        response.headers.get('content-type'),
        body,
      );
      expect(response.status).toBe(504);
      expect(body).toMatchObject({ kind: 'timeout', retryable: true });
      expect(Date.now() - started).toBeLessThan(2_900);
    } finally {
      h.sim().faults.remove(fault);
      await server.close();
    }
  });
});

describe('service tokens', () => {
  it('refuses a missing, malformed or unknown token, and a revoked one at once', async () => {
    const none = await h.call('GET', '/schedules', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await h.call('GET', '/schedules', { token: 'not-a-token' })).status).toBe(401);
    const forged = `${h.tokens().read.slice(0, -4)}AAAA`;
    expect((await h.call('GET', '/schedules', { token: forged })).body.kind).toBe('unauthorized');

    const { token, info } = await createToken(h.ctx(), { name: 'short-lived', scope: 'read' });
    expect((await h.call('GET', '/schedules', { token })).status).toBe(200);
    await revokeToken(h.ctx(), { token: info.id });
    const revoked = await h.call('GET', '/schedules', { token });
    expect(revoked.status).toBe(401);
    expect(revoked.body.kind).toBe('token_revoked');
  });

  it('refuses a read token on a write route, storing nothing', async () => {
    const before = await count('webhook_endpoints');
    const refused = await h.call('POST', '/webhooks', {
      token: h.tokens().read,
      body: { url: 'http://127.0.0.1:9/hook' },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.kind).toBe('insufficient_scope');
    expect(await count('webhook_endpoints')).toBe(before);
  });

  it('limits each token per minute with 429 and Retry-After', async () => {
    const config = loadConfig({ ...h.env(), API_RATE_LIMIT_PER_MINUTE: '3' });
    const server = await listen(
      createHttpApp({ logger: h.ctx().logger, api: apiRouter({ ctx: { ...h.ctx(), config } }) }),
      0,
      '127.0.0.1',
    );
    try {
      const get = async (token: string) => {
        const response = await fetch(`http://127.0.0.1:${server.port}/api/v1/schedules`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = await response.json();
        h.checker.check(
          'GET',
          '/api/v1/schedules',
          response.status,
          response.headers.get('content-type'),
          body,
        );
        return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
      };
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await get(h.tokens().read));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
      expect(Number(answers[3]!.retryAfter)).toBeGreaterThanOrEqual(1);
      expect((answers[3]!.body as { kind: string }).kind).toBe('rate_limited');
      // Per token: another token still has its own budget.
      expect((await get(h.tokens().write)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('Idempotency-Key on writes', () => {
  const body = { url: 'http://127.0.0.1:9/idempotent', eventTypes: ['sync.failed'] };

  it('returns the first answer to the same key and body, in sequence; 422 for another body', async () => {
    const before = await count('webhook_endpoints');
    const headers = { 'idempotency-key': 'create-hook-1' };
    const first = await h.call('POST', '/webhooks', { body, headers });
    const again = await h.call('POST', '/webhooks', {
      body: { eventTypes: ['sync.failed'], url: body.url },
      headers,
    });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await count('webhook_endpoints')).toBe(before + 1);

    const other = await h.call('POST', '/webhooks', {
      body: { ...body, url: 'http://127.0.0.1:9/other' },
      headers,
    });
    expect(other.status).toBe(422);
    expect(other.body.kind).toBe('idempotency_mismatch');
    expect(await count('webhook_endpoints')).toBe(before + 1);
  });

  it('creates one thing when the same key arrives concurrently', async () => {
    const before = await count('webhook_endpoints');
    const headers = { 'idempotency-key': 'create-hook-concurrent' };
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => h.call('POST', '/webhooks', { body, headers })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
    expect(new Set(answers.map((a) => a.body.endpoint.id)).size).toBe(1);
    expect(await count('webhook_endpoints')).toBe(before + 1);
  });

  it('forgets a key after 24 hours', async () => {
    const headers = { 'idempotency-key': 'old-key' };
    const first = await h.call('POST', '/webhooks', { body, headers });
    await h
      .db()
      .db.execute(
        sql`update api_idempotency_keys set created_at = now() - interval '25 hours' where key = 'old-key'`,
      );
    const later = await h.call('POST', '/webhooks', {
      body: { ...body, url: 'http://127.0.0.1:9/later' },
      headers,
    });
    expect(later.status).toBe(201);
    expect(later.body.endpoint.id).not.toBe(first.body.endpoint.id);
  });

  it('frees a key whose first request was abandoned mid-way (its process died)', async () => {
    const headers = { 'idempotency-key': 'abandoned' };
    const first = await h.call('POST', '/webhooks', { body, headers });
    // As a process that died after claiming the key would have left it: claimed, never answered.
    await h.db().db.execute(
      sql`update api_idempotency_keys set response_status = null, response_sealed = null, completed_at = null,
          created_at = now() - interval '12 minutes' where key = 'abandoned'`,
    );
    const retried = await h.call('POST', '/webhooks', { body, headers });
    expect(retried.status).toBe(201);
    expect(retried.body.endpoint.id).not.toBe(first.body.endpoint.id);
  });

  it('releases the key of a request that failed, and keeps keys per token', async () => {
    const headers = { 'idempotency-key': 'remove-missing' };
    const missing = `/webhooks/we_${'0'.repeat(32)}`;
    expect((await h.call('DELETE', missing, { headers })).status).toBe(404);
    expect((await h.call('DELETE', missing, { headers })).status).toBe(404);
    expect(await rows(sql`select key from api_idempotency_keys where key = 'remove-missing'`)).toEqual([]);
    const bad = await h.call('POST', '/webhooks', { body, headers: { 'idempotency-key': 'has space' } });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('Idempotency-Key');
  });
});

describe('secrets', () => {
  it('keeps tokens, the .p8 and webhook secrets out of the database, the logs and later answers', async () => {
    const key = await validKey();
    await h.call('PUT', '/projects/secretive/credentials', {
      body: key,
      headers: { 'idempotency-key': 'save-1' },
    });
    const hook = await h.call('POST', '/webhooks', {
      body: { url: 'http://127.0.0.1:9/secret', projectId: 'secretive' },
      headers: { 'idempotency-key': 'hook-secret' },
    });
    const secret = hook.body.secret as string;
    const { token } = await createToken(h.ctx(), { name: 'log-check', scope: 'read' });
    await h.call('GET', '/projects/secretive/status', { token });
    const pemBody = key.privateKey.split('\n').slice(1, -2).join('');
    const secrets = [
      h.tokens().write,
      h.tokens().read,
      token,
      secret,
      pemBody,
      secret.slice('whsec_'.length),
    ];

    const stored = await everythingStored();
    const logs = h.ctx().logs();
    const later = [
      (await h.call('GET', '/webhooks')).text,
      (await h.call('GET', '/projects/secretive/status')).text,
      (await h.call('GET', '/projects/secretive/apps')).text,
    ].join('\n');
    for (const value of secrets) {
      expect(stored).not.toContain(value);
      expect(logs).not.toContain(value);
      expect(later).not.toContain(value);
    }
    // Each request is logged with its token's name.
    expect(logs).toContain('"tokenName":"log-check"');
    expect(logs).toContain('"operation":"getStatus"');
    // The idempotent replay still answers the secret (it is sealed at rest).
    const replay = await h.call('POST', '/webhooks', {
      body: { url: 'http://127.0.0.1:9/secret', projectId: 'secretive' },
      headers: { 'idempotency-key': 'hook-secret' },
    });
    expect(replay.body.secret).toBe(secret);
  });
});
