import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/env.ts';
import { AppError } from '../../../src/errors.ts';
import {
  decryptSecret,
  encryptionKeyFingerprint,
  encryptSecret,
  sealedKeyId,
} from '../../../src/secrets/crypto.ts';
import { p256Pem, pemBody } from './fixtures/keys.ts';

const newKey = () => randomBytes(32);
const config = (current?: Buffer, previous: Buffer[] = [], hex = false) =>
  loadConfig({
    CREDENTIALS_ENCRYPTION_KEY: current?.toString(hex ? 'hex' : 'base64'),
    CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS: previous.map((k) => k.toString('base64')).join(','),
  });

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a rejection');
}

describe('credential encryption at rest', () => {
  const pem = p256Pem();

  it('round-trips a PEM as a compact JWE (dir + A256GCM) whose kid fingerprints the key', async () => {
    const key = newKey();
    const cfg = config(key);
    const sealed = await encryptSecret(cfg, pem);
    expect(sealed.jwe.split('.')).toHaveLength(5);
    expect(decodeProtectedHeader(sealed.jwe)).toEqual({
      alg: 'dir',
      enc: 'A256GCM',
      kid: encryptionKeyFingerprint(key),
    });
    expect(sealed.kid).toMatch(/^[0-9a-f]{16}$/);
    expect(sealedKeyId(sealed.jwe)).toBe(sealed.kid);
    expect(await decryptSecret(cfg, sealed.jwe)).toBe(pem);
  });

  it('never holds the PEM, its body or a part of it in the ciphertext', async () => {
    const sealed = await encryptSecret(config(newKey()), pem);
    const body = pemBody(pem);
    for (let i = 0; i + 12 <= body.length; i += 12) expect(sealed.jwe).not.toContain(body.slice(i, i + 12));
    expect(sealed.jwe).not.toContain('PRIVATE KEY');
    expect(Buffer.from(sealed.jwe.split('.')[3] ?? '', 'base64url').toString('latin1')).not.toContain(
      'PRIVATE',
    );
  });

  it('uses a fresh IV each time', async () => {
    const cfg = config(newKey());
    const a = await encryptSecret(cfg, pem);
    const b = await encryptSecret(cfg, pem);
    expect(a.jwe).not.toBe(b.jwe);
  });

  it('accepts the key as hex as well as base64, with the same kid', async () => {
    const key = newKey();
    const sealed = await encryptSecret(config(key, [], true), pem);
    expect(sealed.kid).toBe(encryptionKeyFingerprint(key));
    expect(await decryptSecret(config(key), sealed.jwe)).toBe(pem);
  });

  it('decrypts with a previous key after a rotation, and seals new secrets with the current one', async () => {
    const oldKey = newKey();
    const current = newKey();
    const sealedOld = await encryptSecret(config(oldKey), pem);
    const rotated = config(current, [newKey(), oldKey]);
    expect(await decryptSecret(rotated, sealedOld.jwe)).toBe(pem);
    const sealedNew = await encryptSecret(rotated, pem);
    expect(sealedNew.kid).toBe(encryptionKeyFingerprint(current));
    expect(sealedNew.kid).not.toBe(sealedOld.kid);
  });

  it('refuses with advice naming CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS when no configured key matches the kid', async () => {
    const sealed = await encryptSecret(config(newKey()), pem);
    const error = await rejection(decryptSecret(config(newKey(), [newKey()]), sealed.jwe));
    expect(error.kind).toBe('config');
    expect(error.message).toContain(sealed.kid);
    expect(error.message).toContain('CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS');
  });

  it('refuses a ciphertext that was altered, or a key that has the right kid but not the right bytes', async () => {
    const key = newKey();
    const sealed = await encryptSecret(config(key), pem);
    const parts = sealed.jwe.split('.');
    const cipher = Buffer.from(parts[3] ?? '', 'base64url');
    cipher[0] = (cipher[0] ?? 0) ^ 1;
    parts[3] = cipher.toString('base64url');
    const error = await rejection(decryptSecret(config(key), parts.join('.')));
    expect(error.kind).toBe('credentials_unreadable');
    expect(error.message).toContain('catalog-sync credentials set');
    expect((await rejection(decryptSecret(config(key), 'not a jwe'))).kind).toBe('credentials_unreadable');
  });

  it('explains how to make CREDENTIALS_ENCRYPTION_KEY when it is missing', async () => {
    const error = await rejection(encryptSecret(config(), pem));
    expect(error.kind).toBe('config');
    expect(error.message).toContain('CREDENTIALS_ENCRYPTION_KEY is not set');
    expect(error.message).toContain('openssl rand -base64 32');
    const sealed = await encryptSecret(config(newKey()), pem);
    expect((await rejection(decryptSecret(config(), sealed.jwe))).message).toContain(
      'openssl rand -base64 32',
    );
  });
});
