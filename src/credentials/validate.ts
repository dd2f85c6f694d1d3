import { createPrivateKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';
import { PKCS8_LABEL, pemLine } from '../secrets/pem.ts';

/*
 * Checks an App Store Connect API key before anything is stored. Pure: no I/O, and no message
 * ever quotes the key material (only its shape: what kind of PEM it is, which curve).
 */

/** What the platform or the CLI hands over. `fileName` is the .p8's base name, when known. */
export const credentialsInputSchema = z.object({
  keyId: z.string(),
  issuerId: z.string(),
  privateKey: z.string(),
  fileName: z.string().optional(),
});
export type CredentialsInput = z.infer<typeof credentialsInputSchema>;

export const parsedCredentialsSchema = z.object({
  keyId: z.string(),
  issuerId: z.string(),
  /** The key as canonical PKCS#8 PEM (LF line endings, trailing newline). */
  privateKeyPem: z.string(),
});
export type ParsedCredentials = z.infer<typeof parsedCredentialsSchema>;

const KEY_ID = /^[A-Z0-9]{10}$/;
// Apple's Issuer IDs are UUID-shaped but not always RFC 4122 (their own example has variant `e`),
// so only the 8-4-4-4-12 hex shape is checked.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const WHERE_TEAM_KEYS =
  'App Store Connect → Users and Access → Integrations → App Store Connect API (Team Keys)';

export function parseCredentialsInput(input: CredentialsInput): ParsedCredentials {
  const raw = (input ?? {}) as Partial<Record<keyof CredentialsInput, unknown>>;
  const keyId = parseKeyId(raw.keyId);
  const issuerId = parseIssuerId(raw.issuerId);
  const fileName = typeof raw.fileName === 'string' && raw.fileName.trim() !== '' ? raw.fileName : undefined;
  if (fileName !== undefined) checkFileName(fileName, keyId);
  const privateKeyPem = parsePrivateKey(raw.privateKey);
  return { keyId, issuerId, privateKeyPem };
}

export function parseKeyId(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidInputError(
      'keyId',
      `the Key ID is required: it is the 10-character ID shown next to the key in ${WHERE_TEAM_KEYS}.`,
    );
  }
  const keyId = value.trim();
  if (KEY_ID.test(keyId)) return keyId;
  let hint = '';
  if (UUID.test(keyId)) hint = ' (this looks like an Issuer ID: the two may be swapped)';
  else if (/^[A-Za-z0-9]{10}$/.test(keyId)) hint = ' (Key IDs are upper-case: copy it exactly as shown)';
  else if (/^AuthKey_/i.test(keyId)) hint = ' (give the part after AuthKey_ in the file name)';
  throw new InvalidInputError(
    'keyId',
    `the Key ID must be exactly 10 upper-case letters or digits, got ${keyId.length} characters${hint}; ` +
      `use the Key ID shown next to the key, not the key's name (${WHERE_TEAM_KEYS}).`,
  );
}

export function parseIssuerId(value: unknown): string {
  const where = `it is shown above the list of keys in ${WHERE_TEAM_KEYS}, not on the In-App Purchase tab`;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidInputError('issuerId', `the Issuer ID is required: ${where}.`);
  }
  const issuerId = value.trim();
  if (UUID.test(issuerId)) return issuerId;
  const swapped = KEY_ID.test(issuerId) ? ' (this looks like a Key ID: the two may be swapped)' : '';
  throw new InvalidInputError(
    'issuerId',
    `the Issuer ID must be a UUID such as 57246542-96fe-1a63-e053-0824d011072a${swapped}: ${where}.`,
  );
}

/** The file name tells an In-App Purchase key, or another key's file, apart before its content is read. */
export function checkFileName(fileName: string, keyId: string): void {
  const base = path.basename(fileName.replaceAll('\\', '/'));
  if (/^SubscriptionKey_/i.test(base)) {
    throw new InvalidInputError(
      'privateKey',
      `${base} is an In-App Purchase key (SubscriptionKey_….p8), which signs StoreKit requests and cannot call ` +
        `the App Store Connect API. Generate an API key in ${WHERE_TEAM_KEYS} with the App Manager or Admin role, ` +
        'and use its AuthKey_<KEYID>.p8 with that Key ID.',
    );
  }
  const match = /^AuthKey_([A-Za-z0-9]+)\.p8$/i.exec(base);
  const fileKeyId = match?.[1]?.toUpperCase();
  if (fileKeyId !== undefined && fileKeyId !== keyId) {
    throw new InvalidInputError(
      'privateKey',
      `the .p8 file does not match the Key ID: ${base} belongs to key ${fileKeyId}, but the Key ID given is ${keyId}. ` +
        'Use the AuthKey_<KEYID>.p8 downloaded for that key, or the Key ID of this file.',
    );
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Restores what storage and transport do to a PEM: literal `\n`, CRLF, surrounding quotes or spaces. */
export function normalisePem(value: string): string {
  let text = value.replace(/^\uFEFF/, '').trim();
  if (text.length >= 2 && /^(["']).*\1$/s.test(text)) text = text.slice(1, -1).trim();
  return text.replaceAll('\\r\\n', '\n').replaceAll('\\n', '\n').replace(/\r\n?/g, '\n').trim();
}

function refuse(message: string): never {
  throw new InvalidInputError('privateKey', message);
}

const DOWNLOAD_AGAIN =
  'Use the AuthKey_<KEYID>.p8 file exactly as downloaded (Apple lets you download it once; ' +
  `if it is lost, revoke it and generate a new key in ${WHERE_TEAM_KEYS}).`;

export function parsePrivateKey(value: unknown): string {
  if (typeof value !== 'string' || normalisePem(value) === '') {
    refuse(`the .p8 file is empty. ${DOWNLOAD_AGAIN}`);
  }
  const text = normalisePem(value);
  const labels = [...text.matchAll(PEM_BLOCK)].map((m) => m[1] ?? '');
  let pem: string;
  if (labels.includes('PRIVATE KEY')) {
    const block = [...text.matchAll(PEM_BLOCK)].find((m) => m[1] === 'PRIVATE KEY');
    pem = block?.[0] ?? '';
  } else if (labels.length > 0) {
    refuse(describeWrongPem(labels));
  } else if (/-----BEGIN /.test(text)) {
    refuse(`the .p8 file is incomplete: it has a BEGIN line but no matching END line. ${DOWNLOAD_AGAIN}`);
  } else if (/^[A-Za-z0-9+/=\s]{40,}$/.test(text)) {
    // The body alone (some secret stores drop the armour lines): wrap it and let parsing decide.
    pem = `${pemLine('BEGIN', PKCS8)}\n${text.replace(/\s+/g, '')}\n${pemLine('END', PKCS8)}`;
  } else {
    refuse(
      `the .p8 file is not a PEM private key (expected a text file whose first line is BEGIN ${PKCS8} between dashes). ${DOWNLOAD_AGAIN}`,
    );
  }

  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The error text from OpenSSL is not shown: it is unhelpful and could echo input.
    refuse(
      `the .p8 file could not be read as a private key: it may be truncated or altered. ${DOWNLOAD_AGAIN}`,
    );
  }
  if (key.asymmetricKeyType !== 'ec') {
    refuse(
      `the .p8 file holds ${describeKeyType(key.asymmetricKeyType)}, but App Store Connect API keys are EC P-256 keys. ${DOWNLOAD_AGAIN}`,
    );
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve !== 'prime256v1') {
    refuse(
      `the .p8 file holds an EC key on curve ${curve ?? 'unknown'}, but App Store Connect API keys use P-256 (prime256v1). ${DOWNLOAD_AGAIN}`,
    );
  }
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const PKCS8 = PKCS8_LABEL;

function describeWrongPem(labels: string[]): string {
  const label = labels[0] ?? '';
  switch (label) {
    case 'CERTIFICATE':
    case 'TRUSTED CERTIFICATE':
    case 'CERTIFICATE REQUEST':
      return `the .p8 file holds a certificate, not a private key. ${DOWNLOAD_AGAIN}`;
    case 'ENCRYPTED PRIVATE KEY':
      return `the .p8 file holds an encrypted (password-protected) private key; Apple's .p8 is not encrypted. ${DOWNLOAD_AGAIN}`;
    case 'RSA PRIVATE KEY':
      return `the .p8 file holds an RSA private key, but App Store Connect API keys are EC P-256 keys. ${DOWNLOAD_AGAIN}`;
    case 'EC PRIVATE KEY':
      return (
        `the .p8 file holds an EC key in SEC1 form (BEGIN EC ${PKCS8}), not PKCS#8 (BEGIN ${PKCS8}) as Apple ` +
        `issues it. ${DOWNLOAD_AGAIN}`
      );
    case 'PUBLIC KEY':
    case 'RSA PUBLIC KEY':
      return `the .p8 file holds a public key; the private key is needed. ${DOWNLOAD_AGAIN}`;
    default:
      return `the .p8 file holds a PEM block of type "${label}", not a private key (BEGIN ${PKCS8}). ${DOWNLOAD_AGAIN}`;
  }
}

function describeKeyType(type: string | undefined): string {
  switch (type) {
    case 'rsa':
    case 'rsa-pss':
      return 'an RSA key';
    case 'ed25519':
    case 'ed448':
      return `an ${type.toUpperCase()} key`;
    default:
      return `a ${type ?? 'unknown'} key`;
  }
}
