import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  APPLE_401,
  firstError,
  get,
  keyWithToken,
  mintToken,
  smallCatalog,
  useSimulator,
} from './helpers.ts';

const sim = await useSimulator({ catalog: smallCatalog() });
const admin = await sim.createKey({ role: 'ADMIN' });
const other = await sim.createKey({ role: 'ADMIN' });
const [appA, appB] = sim.catalog.apps as [(typeof sim.catalog.apps)[0], (typeof sim.catalog.apps)[0]];

async function expect401(token: string | undefined, header?: string) {
  const response = await fetch(`${sim.baseUrl}/v1/apps`, {
    headers: header ? { authorization: header } : token ? { authorization: `Bearer ${token}` } : {},
  });
  expect(response.status).toBe(401);
  expect(await response.json()).toEqual(APPLE_401);
  expect(response.headers.get('x-rate-limit')).toMatch(/^user-hour-lim:\d+;user-hour-rem:\d+;$/);
}

describe('JWT rules (401 NOT_AUTHORIZED with Apple’s body)', () => {
  it('accepts a well-formed token, and again from the cache', async () => {
    const token = await mintToken(admin);
    expect((await get(sim, '/v1/apps', token)).status).toBe(200);
    expect((await get(sim, '/v1/apps', token)).status).toBe(200);
  });

  it('rejects a missing or non-Bearer Authorization header', async () => {
    await expect401(undefined);
    await expect401(undefined, `Basic ${Buffer.from('a:b').toString('base64')}`);
    await expect401(undefined, 'Bearer not-a-jwt');
  });

  it('rejects a lifetime above 20 minutes (21 minutes), accepts exactly 20', async () => {
    await expect401(await mintToken(admin, { lifetime: 21 * 60 }));
    const twenty = await mintToken(admin, { iat: Math.floor(Date.now() / 1000), lifetime: 20 * 60 });
    expect((await get(sim, '/v1/apps', twenty)).status).toBe(200);
  });

  it('rejects a wrong audience', async () => {
    await expect401(await mintToken(admin, { aud: 'appstoreconnect-v2' }));
    await expect401(await mintToken(admin, { aud: ['appstoreconnect-v1', 'other'] }));
  });

  it('rejects a signature by another key', async () => {
    await expect401(await mintToken(admin, { signWith: other.privateKeyPem }));
  });

  it('rejects an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect401(await mintToken(admin, { iat: now - 30 * 60, lifetime: 10 * 60 }));
  });

  it('rejects a wrong issuer, an unknown kid, a missing typ, and iat in the future', async () => {
    await expect401(await mintToken(admin, { iss: other.issuerId }));
    await expect401(await mintToken(admin, { kid: 'ZZZZZZZZZZ' }));
    await expect401(await mintToken(admin, { typ: null }));
    await expect401(await mintToken(admin, { iat: Math.floor(Date.now() / 1000) + 600 }));
  });

  it('rejects a token not signed with ES256', async () => {
    const now = Math.floor(Date.now() / 1000);
    const hs = await new SignJWT({ iss: admin.issuerId, aud: 'appstoreconnect-v1', iat: now, exp: now + 600 })
      .setProtectedHeader({ alg: 'HS256', kid: admin.keyId, typ: 'JWT' })
      .sign(new TextEncoder().encode('a-shared-secret-that-apple-never-accepts'));
    await expect401(hs);
  });

  it('honours a scope claim: matching request allowed, others refused', async () => {
    const token = await mintToken(admin, { scope: ['GET /v1/apps?filter[bundleId]=com.example.app'] });
    expect((await get(sim, '/v1/apps?filter[bundleId]=com.example.app&limit=5', token)).status).toBe(200);
    expect((await get(sim, `/v1/apps/${appA.id}`, token)).status).toBe(401);
  });

  it('a removed (revoked) key is refused even with a cached token', async () => {
    const { key, token } = await keyWithToken(sim);
    expect((await get(sim, '/v1/apps', token)).status).toBe(200);
    sim.keys.remove(key.keyId);
    await expect401(token);
  });

  it('records why a token was refused, without the token', async () => {
    sim.resetRequests();
    await expect401(await mintToken(admin, { lifetime: 21 * 60 }));
    const [entry] = sim.requests;
    expect(entry).toMatchObject({ status: 401, keyId: admin.keyId });
    expect(entry?.note).toMatch(/20 minutes/);
  });
});

describe('roles, app visibility and agreements', () => {
  it('roles without catalog access get 403 FORBIDDEN_ERROR on catalog endpoints but may list apps', async () => {
    for (const role of ['FINANCE', 'SALES', 'MARKETING', 'CUSTOMER_SUPPORT', 'ACCESS_TO_REPORTS']) {
      const { token } = await keyWithToken(sim, { role });
      expect((await get(sim, '/v1/apps', token)).status).toBe(200);
      for (const path of [
        `/v1/apps/${appA.id}/inAppPurchasesV2`,
        `/v1/apps/${appA.id}/subscriptionGroups`,
        `/v1/subscriptionGroups/${appA.groups[0]!.id}/subscriptions`,
        `/v1/apps/${appA.id}/subscriptionGracePeriod`,
        `/v1/subscriptionGracePeriods/${appA.grace!.id}`,
        `/v1/apps/${appA.id}?include=inAppPurchasesV2`,
      ]) {
        const reply = await get(sim, path, token);
        expect(reply.status, `${role} ${path}`).toBe(403);
        expect(firstError(reply)).toMatchObject({
          code: 'FORBIDDEN_ERROR',
          title: 'This request is forbidden for security reasons',
          detail: 'The API key in use does not allow this request',
        });
      }
    }
  });

  it('ADMIN, ACCOUNT_HOLDER, APP_MANAGER and DEVELOPER read the catalog', async () => {
    for (const role of ['ADMIN', 'ACCOUNT_HOLDER', 'APP_MANAGER', 'DEVELOPER']) {
      const { token } = await keyWithToken(sim, { role });
      expect((await get(sim, `/v1/apps/${appA.id}/inAppPurchasesV2`, token)).status, role).toBe(200);
      expect((await get(sim, `/v1/apps/${appA.id}/subscriptionGracePeriod`, token)).status, role).toBe(200);
    }
  });

  it('a key limited to some apps sees only those; others are 404 NOT_FOUND', async () => {
    const { token } = await keyWithToken(sim, { role: 'APP_MANAGER', appIds: [appA.id] });
    const list = await get(sim, '/v1/apps', token);
    expect((list.body as { data: { id: string }[] }).data.map((a) => a.id)).toEqual([appA.id]);
    for (const path of [`/v1/apps/${appB.id}`, `/v1/apps/${appB.id}/inAppPurchasesV2`]) {
      const reply = await get(sim, path, token);
      expect(reply.status).toBe(404);
      expect(firstError(reply)).toMatchObject({
        code: 'NOT_FOUND',
        detail: `There is no resource of type 'apps' with id '${appB.id}'`,
      });
    }
    expect((await get(sim, `/v1/subscriptionGroups/${appB.groups[0]!.id}/subscriptions`, token)).status).toBe(
      404,
    );
  });

  it('a key that sees no apps lists none', async () => {
    const { token } = await keyWithToken(sim, { role: 'DEVELOPER', appIds: [] });
    const reply = await get(sim, '/v1/apps', token);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ data: [], meta: { paging: { total: 0 } } });
  });

  it('agreementsMissing answers every call with 403 FORBIDDEN.REQUIRED_AGREEMENTS_MISSING_OR_EXPIRED', async () => {
    const { key, token } = await keyWithToken(sim, { agreementsMissing: true });
    for (const path of ['/v1/apps', `/v1/apps/${appA.id}`, `/v1/apps/${appA.id}/inAppPurchasesV2`]) {
      const reply = await get(sim, path, token);
      expect(reply.status).toBe(403);
      expect(firstError(reply)).toMatchObject({
        code: 'FORBIDDEN.REQUIRED_AGREEMENTS_MISSING_OR_EXPIRED',
        title: 'A required agreement is missing or has expired.',
      });
    }
    sim.keys.update(key.keyId, { agreementsMissing: false });
    expect((await get(sim, '/v1/apps', token)).status).toBe(200);
  });
});
