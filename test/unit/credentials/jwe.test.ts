import { randomBytes } from 'node:crypto';
import { CompactEncrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { openDirA256Gcm } from '../../../src/secrets/jwe.ts';

const seal = (key: Uint8Array, enc: 'A256GCM' | 'A128GCM', extra: Record<string, unknown> = {}) =>
  new CompactEncrypt(new TextEncoder().encode('secret text'))
    .setProtectedHeader({ alg: 'dir', enc, ...extra })
    .encrypt(key);

describe('openDirA256Gcm', () => {
  it('opens what jose seals as dir + A256GCM', async () => {
    const key = randomBytes(32);
    expect(openDirA256Gcm(await seal(key, 'A256GCM', { kid: 'k' }), key).toString('utf8')).toBe(
      'secret text',
    );
  });

  it('refuses another enc, a zip or crit header, an encrypted key, altered parts and a wrong key', async () => {
    const key = randomBytes(32);
    expect(() => openDirA256Gcm('x', key)).toThrow();
    const other = randomBytes(16);
    expect(() => openDirA256Gcm('a.b.c.d.e', key)).toThrow();
    const a128 = await seal(other, 'A128GCM');
    expect(() => openDirA256Gcm(a128, key)).toThrow(/dir \+ A256GCM/);
    const good = await seal(key, 'A256GCM');
    const [header, , iv, ciphertext, tag] = good.split('.') as [string, string, string, string, string];
    const headerWith = (extra: Record<string, unknown>) =>
      Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', ...extra })).toString('base64url');
    expect(() =>
      openDirA256Gcm([headerWith({ zip: 'DEF' }), '', iv, ciphertext, tag].join('.'), key),
    ).toThrow();
    expect(() =>
      openDirA256Gcm([headerWith({ crit: ['x'] }), '', iv, ciphertext, tag].join('.'), key),
    ).toThrow();
    expect(() => openDirA256Gcm([header, 'AAAA', iv, ciphertext, tag].join('.'), key)).toThrow();
    expect(() => openDirA256Gcm([header, '', iv, `${ciphertext}!`, tag].join('.'), key)).toThrow(/base64url/);
    const flipped = `${ciphertext.slice(0, -2)}${ciphertext.endsWith('AA') ? 'AB' : 'AA'}`;
    expect(() => openDirA256Gcm([header, '', iv, flipped, tag].join('.'), key)).toThrow();
    expect(() => openDirA256Gcm(good, randomBytes(32))).toThrow();
  });
});
