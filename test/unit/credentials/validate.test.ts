import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCredentialsInput } from '../../../src/credentials/validate.ts';
import { InvalidInputError } from '../../../src/errors.ts';
import {
  CERTIFICATE_PEM,
  ed25519Pem,
  encryptedPem,
  ISSUER_ID,
  KEY_ID,
  p256Pem,
  p384Pem,
  pemBody,
  publicKeyPem,
  rsaPkcs1Pem,
  rsaPkcs8Pem,
  sec1Pem,
} from './fixtures/keys.ts';

const GOOD = p256Pem();

function refusal(input: Parameters<typeof parseCredentialsInput>[0]): InvalidInputError {
  try {
    parseCredentialsInput(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error('expected parseCredentialsInput to refuse the input');
}

/** Every refusal: no key material, and no PEM armour a log scrubber would swallow. */
function expectNoKeyMaterial(message: string, pem: string) {
  const body = pemBody(pem);
  for (let i = 0; i + 12 <= body.length; i += 12) expect(message).not.toContain(body.slice(i, i + 12));
  expect(message).not.toMatch(/-----BEGIN/);
}

function sameKey(a: string, b: string) {
  const der = (pem: string) => createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }).toString('hex');
  expect(der(a)).toBe(der(b));
}

describe('parseCredentialsInput accepts', () => {
  it('a Team key as downloaded, returning canonical PKCS#8 PEM', () => {
    const parsed = parseCredentialsInput({ keyId: KEY_ID, issuerId: ISSUER_ID, privateKey: GOOD });
    expect(parsed.keyId).toBe(KEY_ID);
    expect(parsed.issuerId).toBe(ISSUER_ID);
    expect(parsed.privateKeyPem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(parsed.privateKeyPem.endsWith('-----END PRIVATE KEY-----\n')).toBe(true);
    sameKey(parsed.privateKeyPem, GOOD);
  });

  it('IDs with surrounding spaces (trimmed)', () => {
    const parsed = parseCredentialsInput({
      keyId: `  ${KEY_ID}\n`,
      issuerId: ` ${ISSUER_ID.toUpperCase()} `,
      privateKey: GOOD,
    });
    expect(parsed.keyId).toBe(KEY_ID);
    expect(parsed.issuerId).toBe(ISSUER_ID.toUpperCase());
  });

  it('a PEM whose newlines were stored as literal \\n sequences', () => {
    const escaped = GOOD.trim().replaceAll('\n', '\\n');
    expect(escaped).not.toContain('\n');
    const parsed = parseCredentialsInput({ keyId: KEY_ID, issuerId: ISSUER_ID, privateKey: escaped });
    sameKey(parsed.privateKeyPem, GOOD);
  });

  it('a PEM with Windows line endings, a BOM, or wrapped in quotes', () => {
    for (const variant of [
      GOOD.replaceAll('\n', '\r\n'),
      `\uFEFF${GOOD}`,
      `"${GOOD.trim().replaceAll('\n', '\\n')}"`,
      GOOD.trim().replaceAll('\n', '\\r\\n'),
    ]) {
      sameKey(
        parseCredentialsInput({ keyId: KEY_ID, issuerId: ISSUER_ID, privateKey: variant }).privateKeyPem,
        GOOD,
      );
    }
  });

  it('the base64 body alone (armour lines dropped by a secret store)', () => {
    const parsed = parseCredentialsInput({ keyId: KEY_ID, issuerId: ISSUER_ID, privateKey: pemBody(GOOD) });
    sameKey(parsed.privateKeyPem, GOOD);
  });

  it('the AuthKey_<KEYID>.p8 file of the same key, with or without a folder', () => {
    for (const fileName of [`AuthKey_${KEY_ID}.p8`, `/home/me/Downloads/AuthKey_${KEY_ID}.p8`, 'my-key.p8']) {
      expect(
        parseCredentialsInput({ keyId: KEY_ID, issuerId: ISSUER_ID, privateKey: GOOD, fileName }).keyId,
      ).toBe(KEY_ID);
    }
  });
});

describe('parseCredentialsInput refuses', () => {
  const keyIdCases: [string, unknown][] = [
    ['empty', ''],
    ['missing', undefined],
    ['too short', 'ABC123DEF'],
    ['too long', 'ABC123DEF45'],
    ['lower-case', 'abc123def4'],
    ["the key's name", 'Catalog sync key'],
    ['an Issuer ID', ISSUER_ID],
    ['punctuation', 'ABC-123DEF'],
  ];
  it.each(keyIdCases)('a Key ID that is %s, naming keyId', (_label, keyId) => {
    const error = refusal({ keyId: keyId as string, issuerId: ISSUER_ID, privateKey: GOOD });
    expect(error.field).toBe('keyId');
    expect(error.message).toMatch(/^keyId: /);
    expect(error.message).toContain('Key ID');
    if (keyId) expect(error.message).toContain("use the Key ID shown next to the key, not the key's name");
  });

  const issuerCases: [string, unknown][] = [
    ['empty', ''],
    ['missing', undefined],
    ['not a UUID', 'my-team'],
    ['a UUID without dashes', ISSUER_ID.replaceAll('-', '')],
    ['a Key ID', KEY_ID],
  ];
  it.each(issuerCases)('an Issuer ID that is %s, naming issuerId', (_label, issuerId) => {
    const error = refusal({ keyId: KEY_ID, issuerId: issuerId as string, privateKey: GOOD });
    expect(error.field).toBe('issuerId');
    expect(error.message).toMatch(/^issuerId: /);
    expect(error.message).toContain('Issuer ID');
    expect(error.message).toContain('not on the In-App Purchase tab');
  });

  const keyCases: [string, () => string, RegExp][] = [
    ['an empty file', () => '', /is empty/],
    ['a file of blanks', () => ' \n\r\n ', /is empty/],
    ['a certificate', () => CERTIFICATE_PEM, /certificate, not a private key/],
    ['an RSA key (PKCS#8)', rsaPkcs8Pem, /holds an RSA key.*EC P-256/],
    ['an RSA key (PKCS#1)', rsaPkcs1Pem, /RSA private key.*EC P-256/],
    ['a P-384 key', p384Pem, /curve secp384r1.*P-256/],
    ['an encrypted key', encryptedPem, /encrypted/],
    ['an EC key in SEC1 form', sec1Pem, /SEC1.*PKCS#8/],
    ['an Ed25519 key', ed25519Pem, /ED25519 key/],
    ['a public key', publicKeyPem, /public key/],
    ['garbage', () => 'this is not a key at all, sorry', /not a PEM private key/],
    ['a truncated key', () => GOOD.slice(0, 80), /no matching END line/],
    [
      'a key whose body was altered',
      () => GOOD.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA'),
      /could not be read as a private key/,
    ],
    ['binary junk', () => '\u0000\u0001\u0002garbage\u00ff', /not a PEM private key/],
  ];
  it.each(keyCases)('%s, naming privateKey with a specific message', (_label, make, expected) => {
    const pem = make();
    const error = refusal({ keyId: KEY_ID, issuerId: ISSUER_ID, privateKey: pem });
    expect(error.field).toBe('privateKey');
    expect(error.message).toMatch(/^privateKey: /);
    expect(error.message).toMatch(expected);
    expectNoKeyMaterial(error.message, pem);
  });

  it('an In-App Purchase key (SubscriptionKey_*.p8), saying where the right key is made', () => {
    const error = refusal({
      keyId: KEY_ID,
      issuerId: ISSUER_ID,
      privateKey: GOOD,
      fileName: 'SubscriptionKey_ZZZ999YYY8.p8',
    });
    expect(error.field).toBe('privateKey');
    expect(error.message).toContain('In-App Purchase key');
    expect(error.message).toContain(
      'App Store Connect → Users and Access → Integrations → App Store Connect API (Team Keys)',
    );
    expectNoKeyMaterial(error.message, GOOD);
  });

  it('an AuthKey_<ID>.p8 file of another key', () => {
    const error = refusal({
      keyId: KEY_ID,
      issuerId: ISSUER_ID,
      privateKey: GOOD,
      fileName: 'C:\\Users\\me\\AuthKey_ZZZ999YYY8.p8',
    });
    expect(error.field).toBe('privateKey');
    expect(error.message).toContain('the .p8 file does not match the Key ID');
    expect(error.message).toContain('ZZZ999YYY8');
  });

  it('checks the fields in order: Key ID, Issuer ID, file name, then the key', () => {
    expect(refusal({ keyId: 'x', issuerId: 'y', privateKey: '' }).field).toBe('keyId');
    expect(refusal({ keyId: KEY_ID, issuerId: 'y', privateKey: '' }).field).toBe('issuerId');
    expect(
      refusal({ keyId: KEY_ID, issuerId: ISSUER_ID, privateKey: '', fileName: 'SubscriptionKey_A.p8' })
        .message,
    ).toContain('In-App Purchase');
  });
});
