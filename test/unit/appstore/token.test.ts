import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { AppStoreError } from '../../../src/appstore/errors.ts';
import { createTokenProvider, needsRefresh, tokenClaims } from '../../../src/appstore/token.ts';
import {
  cachedToken,
  cachedTokenCount,
  cacheToken,
  MAX_KEYS,
  tokenCacheKey,
} from '../../../src/appstore/token-cache.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ISSUER = '57246542-96fe-1a63-e053-0824d011072a';
const T0 = Date.parse('2026-03-01T12:00:00Z');

function provider(clock: { now: number }, cacheKey?: string) {
  let loads = 0;
  const tokens = createTokenProvider({
    keyId: '2X9R4HXF34',
    issuerId: ISSUER,
    loadPrivateKey: async () => {
      loads++;
      return pem;
    },
    cacheKey,
    now: () => clock.now,
  });
  return { tokens, loads: () => loads };
}

describe('tokenClaims', () => {
  it('backdates iat a minute and expires within 15 minutes', () => {
    const claims = tokenClaims(ISSUER, T0 + 999);
    expect(claims).toEqual({
      iss: ISSUER,
      iat: T0 / 1000 - 60,
      exp: T0 / 1000 + 900,
      aud: 'appstoreconnect-v1',
    });
    expect(claims.exp - claims.iat).toBeLessThan(20 * 60);
  });

  it('refreshes at least a minute before expiry', () => {
    const exp = T0 / 1000 + 900;
    expect(needsRefresh(exp, T0)).toBe(false);
    expect(needsRefresh(exp, (exp - 61) * 1000)).toBe(true);
  });
});

describe('createTokenProvider', () => {
  it('signs ES256 with kid and typ, verifiable with the public key', async () => {
    const clock = { now: T0 };
    const { tokens } = provider(clock);
    const token = await tokens.get();
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: '2X9R4HXF34', typ: 'JWT' });
    const { payload } = await jwtVerify(token, await importSPKI(spki, 'ES256'), {
      issuer: ISSUER,
      audience: 'appstoreconnect-v1',
      currentDate: new Date(T0),
    });
    expect(payload.iat).toBe(T0 / 1000 - 60);
    expect(payload.exp).toBe(T0 / 1000 + 900);
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss']);
  });

  it('does not load the key until a token is needed, then reuses the token', async () => {
    const clock = { now: T0 };
    const { tokens, loads } = provider(clock);
    expect(loads()).toBe(0);
    const [a, b] = await Promise.all([tokens.get(), tokens.get()]);
    clock.now += 10 * 60_000;
    const c = await tokens.get();
    expect(new Set([a, b, c]).size).toBe(1);
    expect(tokens.minted).toBe(1);
    expect(loads()).toBe(1);
  });

  it('mints a new token once the old one is within the refresh margin', async () => {
    const clock = { now: T0 };
    const { tokens } = provider(clock);
    const first = await tokens.get();
    clock.now += 13 * 60_000 + 1_000; // 1 min 59 s left
    const second = await tokens.get();
    expect(second).not.toBe(first);
    expect(tokens.minted).toBe(2);
    const payload = JSON.parse(Buffer.from(second.split('.')[1]!, 'base64url').toString());
    expect(payload.iat).toBe(Math.floor(clock.now / 1000) - 60);
  });

  it('invalidates only the token that failed', async () => {
    const clock = { now: T0 };
    const { tokens } = provider(clock);
    const first = await tokens.get();
    tokens.invalidate('some-other-token');
    expect(await tokens.get()).toBe(first);
    tokens.invalidate(first);
    clock.now += 1_000;
    expect(await tokens.get()).not.toBe(first);
  });

  it('turns an unusable key into an auth error without quoting it', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const tokens = createTokenProvider({ keyId: 'K', issuerId: ISSUER, loadPrivateKey: async () => rsa });
    const error = await tokens.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppStoreError);
    expect((error as AppStoreError).kind).toBe('auth');
    expect((error as AppStoreError).message).not.toContain('PRIVATE KEY');
    expect((error as AppStoreError).cause).toBeUndefined();
  });
});

describe('tokens shared between clients of one key (token-cache.ts)', () => {
  const key = (sealed: string, unsealedWith = 'kid-a') =>
    tokenCacheKey('2X9R4HXF34', ISSUER, sealed, unsealedWith);

  it('a second provider of the same key reuses the token without loading the key', async () => {
    const clock = { now: T0 };
    const shared = key('sealed-1');
    const first = provider(clock, shared);
    const token = await first.tokens.get();
    const second = provider(clock, shared);
    expect(await second.tokens.get()).toBe(token);
    expect(second.loads()).toBe(0);
    expect(second.tokens.minted).toBe(0);
    // Another sealing of the key (saved again), or another configuration, shares nothing.
    for (const other of [key('sealed-2'), key('sealed-1', 'kid-b')]) {
      const third = provider(clock, other);
      expect(await third.tokens.get()).not.toBe(token);
      expect(third.loads()).toBe(1);
    }
  });

  it('a token near expiry or refused by Apple is not handed on', async () => {
    const clock = { now: T0 };
    const shared = key('sealed-expiry');
    const token = await provider(clock, shared).tokens.get();
    clock.now += 14 * 60_000;
    const later = provider(clock, shared);
    const fresh = await later.tokens.get();
    expect(fresh).not.toBe(token);
    expect(later.loads()).toBe(1);
    later.tokens.invalidate(fresh);
    const after401 = provider(clock, shared);
    expect(await after401.tokens.get()).not.toBe(fresh);
    expect(after401.loads()).toBe(1);
  });

  it('keeps at most MAX_KEYS keys, dropping the least recently used', () => {
    const exp = T0 / 1000 + 900;
    cacheToken('kept', { token: 't-kept', exp });
    for (let i = 0; i < MAX_KEYS; i++) {
      cacheToken(`k${i}`, { token: `t${i}`, exp });
      if (i % 100 === 0) expect(cachedToken('kept')?.token).toBe('t-kept'); // used: stays
    }
    expect(cachedTokenCount()).toBe(MAX_KEYS);
    expect(cachedToken('kept')?.token).toBe('t-kept');
    expect(cachedToken('k0')).toBeUndefined();
  });
});
