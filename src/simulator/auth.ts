import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { KEY_ID_PATTERN, type SimKey, type SimKeyInput, simKeySchema } from './catalog.ts';

/*
 * API keys and bearer tokens, checked as Apple documents them: ES256 with the key's `kid`,
 * `typ: JWT`, `iss` = the key's issuer, `aud` = appstoreconnect-v1, `exp` in the future and
 * `exp − iat` at most 20 minutes. Verified tokens are cached by their exact text, so a sync's
 * requests cost one signature check.
 */

export const AUDIENCE = 'appstoreconnect-v1';
export const MAX_LIFETIME_SECONDS = 20 * 60;
/** How far ahead of the simulator's clock `iat` may be (machines drift a little). */
const IAT_SKEW_SECONDS = 60;
const TOKEN_CACHE_LIMIT = 10_000;

export interface RegisteredKey {
  keyId: string;
  issuerId: string;
  role: string;
  appIds: ReadonlySet<string> | 'all';
  agreementsMissing: boolean;
  rateLimitPerHour: number | undefined;
  publicKeyPem: string;
  publicKey: KeyObject;
}

export interface KeyInfo {
  keyId: string;
  issuerId: string;
  role: string;
  appIds: string[] | 'all';
  agreementsMissing: boolean;
  rateLimitPerHour?: number;
  publicKeyPem: string;
}

export type KeyPatch = Partial<Pick<SimKey, 'role' | 'appIds' | 'agreementsMissing' | 'rateLimitPerHour'>>;

export class KeyRegistry {
  private keys = new Map<string, RegisteredKey>();
  /** Called whenever a key changes, so cached verifications are dropped. */
  onChange: () => void = () => {};

  register(input: SimKeyInput): RegisteredKey {
    const parsed = simKeySchema.parse(input);
    const key: RegisteredKey = {
      keyId: parsed.keyId,
      issuerId: parsed.issuerId,
      role: parsed.role,
      appIds: parsed.appIds === 'all' ? 'all' : new Set(parsed.appIds),
      agreementsMissing: parsed.agreementsMissing,
      rateLimitPerHour: parsed.rateLimitPerHour,
      publicKeyPem: parsed.publicKeyPem,
      publicKey: createPublicKey(parsed.publicKeyPem),
    };
    if (
      key.publicKey.asymmetricKeyType !== 'ec' ||
      key.publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
    ) {
      throw new Error(`Key ${key.keyId}: App Store Connect keys are EC P-256; this public key is not.`);
    }
    this.keys.set(key.keyId, key);
    this.onChange();
    return key;
  }

  update(keyId: string, patch: KeyPatch): RegisteredKey {
    const current = this.require(keyId);
    return this.register({ ...toInfo(current), ...patch });
  }

  remove(keyId: string): boolean {
    const removed = this.keys.delete(keyId);
    if (removed) this.onChange();
    return removed;
  }

  get(keyId: string): RegisteredKey | undefined {
    return this.keys.get(keyId);
  }

  require(keyId: string): RegisteredKey {
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`No key ${keyId} is registered with the simulator.`);
    return key;
  }

  list(): KeyInfo[] {
    return [...this.keys.values()].map(toInfo);
  }

  clear(): void {
    this.keys.clear();
    this.onChange();
  }
}

export function toInfo(key: RegisteredKey): KeyInfo {
  return {
    keyId: key.keyId,
    issuerId: key.issuerId,
    role: key.role,
    appIds: key.appIds === 'all' ? 'all' : [...key.appIds],
    agreementsMissing: key.agreementsMissing,
    ...(key.rateLimitPerHour === undefined ? {} : { rateLimitPerHour: key.rateLimitPerHour }),
    publicKeyPem: key.publicKeyPem,
  };
}

export type AuthResult =
  | { ok: true; key: RegisteredKey }
  | {
      ok: false;
      reason: string /** The token's `kid`, when one could be read. */;
      keyId: string | undefined;
    };

interface CachedToken {
  key: RegisteredKey;
  exp: number;
  scope: string[] | undefined;
}

export class TokenVerifier {
  private cache = new Map<string, CachedToken>();
  private readonly registry: KeyRegistry;
  private readonly now: () => number;

  constructor(registry: KeyRegistry, now: () => number) {
    this.registry = registry;
    this.now = now;
  }

  clearCache(): void {
    this.cache.clear();
  }

  async verify(authorization: string | undefined, method: string, url: URL): Promise<AuthResult> {
    if (!authorization) return denied('no Authorization header');
    if (!authorization.startsWith('Bearer ')) return denied('Authorization is not a Bearer token');
    const token = authorization.slice('Bearer '.length).trim();
    const nowSeconds = this.now() / 1000;
    const cached = this.cache.get(token);
    if (cached && this.registry.get(cached.key.keyId) === cached.key) {
      if (cached.exp <= nowSeconds) return denied('token expired', cached.key.keyId);
      if (!scopeAllows(cached.scope, method, url))
        return denied('token scope does not cover this request', cached.key.keyId);
      return { ok: true, key: cached.key };
    }
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return denied('token is not a JWS');
    }
    const keyId = typeof header.kid === 'string' ? header.kid : undefined;
    if (header.alg !== 'ES256') return denied(`alg is ${String(header.alg)}, not ES256`, keyId);
    if (header.typ !== 'JWT') return denied('typ header is not JWT', keyId);
    if (!keyId || !KEY_ID_PATTERN.test(keyId)) return denied('kid header missing or malformed', keyId);
    const key = this.registry.get(keyId);
    if (!key) return denied('kid is not a registered key', keyId);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key.publicKey, {
        algorithms: ['ES256'],
        typ: 'JWT',
        issuer: key.issuerId,
        audience: AUDIENCE,
        requiredClaims: ['iat', 'exp'],
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      return denied(describeJoseError(error), keyId);
    }
    const claimsProblem = checkClaims(payload, nowSeconds);
    if (claimsProblem) return denied(claimsProblem, keyId);
    const scope = Array.isArray(payload['scope']) ? (payload['scope'] as unknown[]) : undefined;
    if (payload['scope'] !== undefined && !scope?.every((entry) => typeof entry === 'string')) {
      return denied('scope claim is not an array of strings', keyId);
    }
    if (!scopeAllows(scope as string[] | undefined, method, url)) {
      return denied('token scope does not cover this request', keyId);
    }
    if (this.cache.size >= TOKEN_CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, { key, exp: payload.exp as number, scope: scope as string[] | undefined });
    return { ok: true, key };
  }
}

function checkClaims(payload: JWTPayload, nowSeconds: number): string | undefined {
  const { iat, exp, aud } = payload;
  if (aud !== AUDIENCE) return `aud must be the string '${AUDIENCE}'`;
  if (typeof iat !== 'number' || typeof exp !== 'number') return 'iat and exp are required';
  if (exp - iat > MAX_LIFETIME_SECONDS)
    return `token lifetime (exp − iat) is ${exp - iat}s, above 20 minutes`;
  if (exp <= iat) return 'exp is not after iat';
  if (iat > nowSeconds + IAT_SKEW_SECONDS) return 'iat is in the future';
  if (exp - nowSeconds > MAX_LIFETIME_SECONDS + IAT_SKEW_SECONDS) return 'exp is more than 20 minutes ahead';
  return undefined;
}

/**
 * Apple: a token with `scope` is valid only for requests one entry matches: same method and
 * path; the entry's query parameters must all be present (limit, cursor and sort ignored).
 */
function scopeAllows(scope: string[] | undefined, method: string, url: URL): boolean {
  if (!scope) return true;
  const ignored = new Set(['limit', 'cursor', 'sort']);
  return scope.some((entry) => {
    const [entryMethod, target] = entry.split(' ', 2);
    if (entryMethod !== method || !target) return false;
    const scoped = new URL(target, 'http://scope.invalid');
    if (scoped.pathname !== url.pathname) return false;
    for (const [name, value] of scoped.searchParams) {
      if (ignored.has(name)) continue;
      if (url.searchParams.get(name) !== value) return false;
    }
    return true;
  });
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not match the key';
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return `claim check failed: ${error.claim} (${error.reason})`;
  return error instanceof Error ? error.message : String(error);
}

const denied = (reason: string, keyId?: string): AuthResult => ({ ok: false, reason, keyId });
