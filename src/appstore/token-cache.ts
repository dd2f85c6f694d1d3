import { createHash } from 'node:crypto';

/*
 * Bearer tokens shared by every client of this process that signs with the same key.
 *
 * A worker builds a client per sync, and a token lives 15 minutes: minting one per sync meant
 * decrypting the sealed .p8, importing it and signing, every time — about 0.6 ms of a 9 ms
 * unchanged re-sync (test/bench/sync-cpu.ts profile), and repeated across the projects that share
 * one key. Only tokens are kept (never the key, sealed or not), under a digest of what identifies
 * the key material, so credentials saved again get a new entry and the old one ages out. Bounded:
 * the least recently used key is dropped past MAX_KEYS.
 */

export interface CachedToken {
  token: string;
  /** Expiry, in seconds since the epoch (the JWT's `exp`). */
  exp: number;
}

/** Keys whose tokens are kept at once; a worker serving more keys mints more often, nothing else. */
export const MAX_KEYS = 1_000;

const tokens = new Map<string, CachedToken>();

/**
 * The cache key for a stored credential: a digest of the key id, the issuer, the sealed .p8 as
 * stored (a re-saved key seals differently, so it never finds a token signed by the one it
 * replaced) and `unsealedWith`, what identifies the encryption keys that open it here (so code
 * running with another configuration, which might not open it, never reuses a token).
 */
export function tokenCacheKey(keyId: string, issuerId: string, sealed: string, unsealedWith: string): string {
  return createHash('sha256')
    .update(`${keyId}\u0000${issuerId}\u0000${sealed}\u0000${unsealedWith}`)
    .digest('base64url');
}

export function cachedToken(key: string): CachedToken | undefined {
  const entry = tokens.get(key);
  if (entry) {
    // Most recently used last, so the first key in the map is the one to drop.
    tokens.delete(key);
    tokens.set(key, entry);
  }
  return entry;
}

export function cacheToken(key: string, entry: CachedToken): void {
  tokens.delete(key);
  tokens.set(key, entry);
  while (tokens.size > MAX_KEYS) {
    const oldest = tokens.keys().next().value;
    if (oldest === undefined) break;
    tokens.delete(oldest);
  }
}

/** Drops `token` if it is still the one cached under `key` (Apple refused it). */
export function forgetToken(key: string, token: string): void {
  if (tokens.get(key)?.token === token) tokens.delete(key);
}

/** How many keys have a token cached (tests). */
export function cachedTokenCount(): number {
  return tokens.size;
}
