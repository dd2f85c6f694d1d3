import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { AppError } from '../errors.ts';
import { PKCS8_LABEL, pemLine } from '../secrets/pem.ts';
import { AppStoreError } from './errors.ts';
import { type CachedToken, cachedToken, cacheToken, forgetToken } from './token-cache.ts';

/*
 * App Store Connect bearer tokens: ES256 JWTs, one per key, reused across requests.
 * `iat` is set a minute back and the lifetime kept well under Apple's 20-minute ceiling,
 * because a clock a little off is the commonest reason "valid keys" get 401.
 */

export const TOKEN_AUDIENCE = 'appstoreconnect-v1';
/** Backdating of `iat`, tolerating a machine clock slightly ahead of Apple's. */
export const IAT_SKEW_SECONDS = 60;
/** `exp` is at most this far after now (Apple rejects lifetimes over 20 minutes). */
export const TOKEN_TTL_SECONDS = 15 * 60;
/** A token is replaced once it has less than this left, so none expires in flight. */
export const REFRESH_MARGIN_SECONDS = 2 * 60;

/*
 * Signed with node:crypto (ECDSA P-256, SHA-256, the JWS r‖s encoding), synchronously: every sync
 * builds its client and mints a token, and jose's importPKCS8 + SignJWT through WebCrypto's async
 * jobs cost about 0.3 ms of worker CPU per sync (test/bench/sync-cpu.ts profile). The KeyObject
 * holds the key in native memory and prints or serialises as no key material.
 */
type SigningKey = KeyObject;

const PKCS8_BEGIN = pemLine('BEGIN', PKCS8_LABEL);

/** An App Store Connect key: a PKCS#8 PEM holding an EC P-256 private key; throws otherwise. */
function importSigningKey(pem: string): SigningKey {
  if (!pem.includes(PKCS8_BEGIN)) throw new Error('not a PKCS#8 PEM');
  const key = createPrivateKey({ key: pem, format: 'pem' });
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('not an EC P-256 key');
  }
  return key;
}

const base64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/** A compact JWS (ES256) of `claims`, with `kid` and `typ` in its header. */
export function signToken(key: SigningKey, keyId: string, claims: TokenClaims): string {
  const input = `${base64url(JSON.stringify({ alg: 'ES256', kid: keyId, typ: 'JWT' }))}.${base64url(
    JSON.stringify({ iss: claims.iss, iat: claims.iat, exp: claims.exp, aud: claims.aud }),
  )}`;
  const signature = sign('sha256', Buffer.from(input, 'ascii'), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

export interface TokenClaims {
  iss: string;
  iat: number;
  exp: number;
  aud: string;
}

/** Claims for a token minted at `nowMs`. Pure. */
export function tokenClaims(issuerId: string, nowMs: number): TokenClaims {
  const now = Math.floor(nowMs / 1000);
  return { iss: issuerId, iat: now - IAT_SKEW_SECONDS, exp: now + TOKEN_TTL_SECONDS, aud: TOKEN_AUDIENCE };
}

/** Whether a token expiring at `expSeconds` must be replaced at `nowMs`. Pure. */
export function needsRefresh(expSeconds: number, nowMs: number): boolean {
  return nowMs / 1000 >= expSeconds - REFRESH_MARGIN_SECONDS;
}

export interface TokenProviderOptions {
  keyId: string;
  issuerId: string;
  /** Returns the .p8 PEM; called only when a token must be minted and no key is imported yet. */
  loadPrivateKey: () => Promise<string>;
  /**
   * Identifies the key material (tokenCacheKey in token-cache.ts): providers given the same one
   * share their tokens process-wide, so a key is not loaded again while its token is valid.
   */
  cacheKey?: string | undefined;
  now?: () => number;
}

export interface TokenProvider {
  /** A valid token, minted only when none is cached or the cached one is close to expiry. */
  get(): Promise<string>;
  /** Drops `token` if it is still the cached one (after a 401), so the next `get` mints afresh. */
  invalidate(token: string): void;
  /** How many tokens have been minted (for tests and stats). */
  readonly minted: number;
}

export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  const now = options.now ?? Date.now;
  // The imported key (a KeyObject) is kept, not the PEM text.
  let key: SigningKey | undefined;
  let cached: CachedToken | undefined;
  const { cacheKey } = options;
  let inflight: Promise<string> | undefined;
  let minted = 0;

  const importKey = async (): Promise<SigningKey> => {
    let pem: string;
    try {
      pem = await options.loadPrivateKey();
    } catch (error) {
      // Our own failures (no encryption key configured, a rotated-away key) are not the
      // customer's key being wrong: pass them through so the status is not set to invalid.
      if (error instanceof AppError) throw error;
      throw new AppStoreError(
        'auth',
        'Failed to verify credentials: the stored .p8 key could not be loaded. Save the credentials again.',
        { cause: error },
      );
    }
    try {
      return importSigningKey(pem);
    } catch {
      // No cause: parser errors could quote key material.
      throw new AppStoreError(
        'auth',
        'Failed to verify credentials: the .p8 key is not a PKCS#8 EC P-256 private key. ' +
          'Download the App Store Connect API key (AuthKey_<KEYID>.p8) again and save the credentials again.',
      );
    }
  };

  const mint = async (): Promise<string> => {
    key ??= await importKey();
    const claims = tokenClaims(options.issuerId, now());
    const token = signToken(key, options.keyId, claims);
    cached = { token, exp: claims.exp };
    if (cacheKey !== undefined) cacheToken(cacheKey, cached);
    minted++;
    return token;
  };

  return {
    get() {
      if (cached && !needsRefresh(cached.exp, now())) return Promise.resolve(cached.token);
      const shared = cacheKey === undefined ? undefined : cachedToken(cacheKey);
      if (shared && !needsRefresh(shared.exp, now())) {
        cached = shared;
        return Promise.resolve(shared.token);
      }
      // Concurrent requests share one mint.
      inflight ??= mint().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    invalidate(token) {
      if (cached?.token === token) cached = undefined;
      if (cacheKey !== undefined) forgetToken(cacheKey, token);
    },
    get minted() {
      return minted;
    },
  };
}
