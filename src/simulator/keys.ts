import { createPrivateKey, createPublicKey, generateKeyPairSync, randomInt, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * App Store Connect API keys as Apple issues them: an EC P-256 pair, the private half as a
 * PKCS#8 PEM (`AuthKey_<KEYID>.p8`), a 10-character Key ID and a UUID Issuer ID.
 */

const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function randomKeyId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += KEY_ID_ALPHABET[randomInt(KEY_ID_ALPHABET.length)];
  return id;
}

export function randomIssuerId(): string {
  return randomUUID();
}

export interface KeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** The public half of a .p8, to register a key kept elsewhere. */
export function publicKeyFromPrivate(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
}

export function p8FileName(keyId: string): string {
  return `AuthKey_${keyId}.p8`;
}

/** Writes the .p8 readable by its owner only; returns its path. */
export async function writeP8(dir: string, keyId: string, privateKeyPem: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, p8FileName(keyId));
  await writeFile(path, privateKeyPem, { mode: 0o600 });
  return path;
}
