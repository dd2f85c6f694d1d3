import { createHash } from 'node:crypto';
import { CompactEncrypt, decodeProtectedHeader } from 'jose';
import { type Config, decodeEncryptionKey } from '../config/env.ts';
import { AppError } from '../errors.ts';
import { openDirA256Gcm } from './jwe.ts';

/*
 * The .p8 at rest: a compact JWE (alg `dir`, enc `A256GCM`) under CREDENTIALS_ENCRYPTION_KEY.
 * The protected header's `kid` is a fingerprint of the key that sealed it, so a rotation
 * (new key current, old one in CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS) can still open old rows.
 */

export interface EncryptionKey {
  kid: string;
  key: Uint8Array;
}

export interface SealedSecret {
  jwe: string;
  kid: string;
}

/** A short, non-reversible name for an encryption key: the first 16 hex digits of its SHA-256. */
export function encryptionKeyFingerprint(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

function toKey(value: string): EncryptionKey | undefined {
  const key = decodeEncryptionKey(value);
  return key ? { kid: encryptionKeyFingerprint(key), key } : undefined;
}

/** The key that seals new secrets; a clear error (with how to make one) when it is not configured. */
export function currentEncryptionKey(config: Config): EncryptionKey {
  const value = config.credentials.encryptionKey;
  const key = value === undefined ? undefined : toKey(value);
  if (!key) {
    throw new AppError(
      'config',
      'CREDENTIALS_ENCRYPTION_KEY is not set: it encrypts the App Store Connect .p8 keys at rest. ' +
        'Make one with `openssl rand -base64 32`, set it in the environment of every catalog-sync process, ' +
        'and keep it (losing it means saving every project’s credentials again).',
    );
  }
  return key;
}

/**
 * Per config object: every sync opens a secret, and decoding the keys and hashing their
 * fingerprints each time was work for nothing (a config does not change once loaded).
 */
const decryptionKeysByConfig = new WeakMap<Config, EncryptionKey[]>();

/** Every key that may open a stored secret: the current one first, then the previous ones. */
export function decryptionKeys(config: Config): EncryptionKey[] {
  let keys = decryptionKeysByConfig.get(config);
  if (!keys) {
    keys = decodeDecryptionKeys(config);
    decryptionKeysByConfig.set(config, keys);
  }
  return keys;
}

function decodeDecryptionKeys(config: Config): EncryptionKey[] {
  const values = [config.credentials.encryptionKey, ...config.credentials.previousKeys];
  const keys: EncryptionKey[] = [];
  for (const value of values) {
    const key = value === undefined ? undefined : toKey(value);
    if (key && !keys.some((k) => k.kid === key.kid)) keys.push(key);
  }
  return keys;
}

export async function encryptSecret(config: Config, plaintext: string): Promise<SealedSecret> {
  const { kid, key } = currentEncryptionKey(config);
  const jwe = await new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
    .encrypt(key);
  return { jwe, kid };
}

/** The `kid` a stored JWE names, or undefined when the text is not a JWE. */
export function sealedKeyId(jwe: string): string | undefined {
  try {
    const header = decodeProtectedHeader(jwe);
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

export async function decryptSecret(config: Config, jwe: string): Promise<string> {
  const kid = sealedKeyId(jwe);
  const keys = decryptionKeys(config);
  // Built only on failure: an error captures a stack, which is not free on every decrypt.
  const unreadable = (cause?: unknown) =>
    new AppError(
      'credentials_unreadable',
      'The stored .p8 could not be decrypted: the record is damaged. ' +
        'Save the credentials again with `catalog-sync credentials set`.',
      { cause },
    );
  if (kid === undefined) throw unreadable();
  const match = keys.find((k) => k.kid === kid);
  if (!match) {
    if (keys.length === 0) currentEncryptionKey(config); // throws the "not set" error with its advice
    throw new AppError(
      'config',
      `The stored .p8 was encrypted with a key (kid ${kid}) that is neither CREDENTIALS_ENCRYPTION_KEY nor one of ` +
        'CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS. If the encryption key was rotated, add the old key to ' +
        'CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS (comma-separated); otherwise save the credentials again with ' +
        '`catalog-sync credentials set`.',
    );
  }
  try {
    return openDirA256Gcm(jwe, match.key).toString('utf8');
  } catch (cause) {
    throw unreadable(cause);
  }
}
