import { createDecipheriv } from 'node:crypto';

/*
 * Opening the compact JWE that seals secrets at rest (RFC 7516, compact serialisation; alg `dir`,
 * enc `A256GCM`) with node:crypto's synchronous AES-GCM. jose's compactDecrypt does the same
 * through WebCrypto, whose per-call key import and async job cost 0.3–0.5 ms of worker CPU on
 * every sync (each opens its project's .p8; test/bench/sync-cpu.ts profile, under load). Sealing
 * stays with jose (crypto.ts), and this refuses anything but exactly what it seals: another
 * algorithm, a `zip` or `crit` header, an encrypted key, a 96-bit IV and 128-bit tag, base64url.
 */

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodePart(part: string, what: string): Buffer {
  if (!BASE64URL.test(part)) throw new Error(`the JWE's ${what} is not base64url`);
  return Buffer.from(part, 'base64url');
}

/** The plaintext of a compact `dir` + `A256GCM` JWE under a 256-bit key; throws when it does not open. */
export function openDirA256Gcm(jwe: string, key: Uint8Array): Buffer {
  const parts = jwe.split('.');
  if (parts.length !== 5) throw new Error('not a compact JWE');
  const [protectedHeader, encryptedKey, iv, ciphertext, tag] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  const header: unknown = JSON.parse(decodePart(protectedHeader, 'header').toString('utf8'));
  if (
    header === null ||
    typeof header !== 'object' ||
    Array.isArray(header) ||
    (header as { alg?: unknown }).alg !== 'dir' ||
    (header as { enc?: unknown }).enc !== 'A256GCM' ||
    Object.hasOwn(header, 'zip') ||
    Object.hasOwn(header, 'crit')
  ) {
    throw new Error('the JWE is not dir + A256GCM without zip or crit');
  }
  if (encryptedKey !== '') throw new Error('a dir JWE carries no encrypted key');
  if (key.length !== 32) throw new Error('A256GCM needs a 256-bit key');
  const ivBytes = decodePart(iv, 'IV');
  const tagBytes = decodePart(tag, 'tag');
  if (ivBytes.length !== 12 || tagBytes.length !== 16) throw new Error('the JWE has a bad IV or tag length');
  const decipher = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: 16 });
  // The additional authenticated data is the protected header exactly as sent (ASCII).
  decipher.setAAD(Buffer.from(protectedHeader, 'ascii'));
  decipher.setAuthTag(tagBytes);
  return Buffer.concat([decipher.update(decodePart(ciphertext, 'ciphertext')), decipher.final()]);
}
