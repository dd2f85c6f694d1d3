import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../errors.ts';
import {
  type DecodedRenewalInfo,
  type DecodedTransaction,
  decodedRenewalInfoSchema,
  decodedTransactionSchema,
} from './model.ts';

/*
 * Verifying what Apple signs, with Apple's own library (`SignedDataVerifier`): the `x5c` chain
 * up to a configured root (APPLE_ROOT_CERTIFICATES, none bundled), Apple's certificate OIDs, the
 * ES256 signature, and the app (bundle id; App Store id for production notifications) and
 * environment. A notification's nested `signedTransactionInfo` / `signedRenewalInfo` are JWSs
 * of their own, which the library does not verify with the envelope: each is verified here.
 * Nothing that fails is returned, only the reason.
 */

export type RefusalCode =
  | 'verification_failed'
  | 'wrong_app'
  | 'wrong_environment'
  | 'not_configured'
  | 'no_transaction'
  | 'invalid';

export class Refused extends Error {
  override name = 'Refused';
  readonly code: RefusalCode;
  constructor(code: RefusalCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface VerifiedInput {
  transaction: DecodedTransaction;
  renewalInfo?: DecodedRenewalInfo | undefined;
  notificationType?: string | undefined;
  subtype?: string | undefined;
}

export interface AppIdentity {
  bundleId: string;
  appStoreId: string | null;
  environment: 'production' | 'sandbox';
}

export interface Verifier {
  notification(signedPayload: string): Promise<VerifiedInput>;
  transaction(signedTransactionInfo: string, signedRenewalInfo?: string): Promise<VerifiedInput>;
}

/** DER bytes of each certificate file (a `.cer` is DER; PEM files may hold several). */
export function readRootCertificates(files: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new InvalidInputError(
        'APPLE_ROOT_CERTIFICATES',
        `names ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const text = bytes.toString('latin1');
    if (text.includes('-----BEGIN CERTIFICATE-----')) {
      for (const match of text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
        out.push(Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64'));
      }
    } else {
      out.push(bytes);
    }
  }
  return out;
}

type Library = typeof import('@apple/app-store-server-library');

let library: Promise<Library> | undefined;
// Apple's library (and its JWT and X.509 dependencies) loads only when something signed arrives.
const loadLibrary = () => {
  library ??= import('@apple/app-store-server-library');
  return library;
};

const REASONS: Record<number, [RefusalCode, string]> = {
  1: [
    'verification_failed',
    'the signature or its certificate chain does not verify against the configured Apple roots',
  ],
  2: ['verification_failed', "the certificates' revocation could not be checked online (OCSP); try again"],
  3: [
    'wrong_app',
    "it was signed for another app (bundle id or App Store id) than the project's selected app",
  ],
  4: ['wrong_environment', 'it is from another environment than the one asked for'],
  5: ['verification_failed', 'its certificate chain is not leaf, intermediate and root'],
  6: [
    'verification_failed',
    "its certificates are not Apple's (a chain not of the configured roots, an expired certificate, or a missing Apple OID)",
  ],
  7: ['invalid', 'it is not a well-formed signed payload (JWS) with the fields Apple sends'],
};

function refusal(error: unknown, what: string): Refused {
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number') {
    const [code, reason] = REASONS[status] ?? ['verification_failed', 'verification failed'];
    return new Refused(code, `${what} refused: ${reason}`);
  }
  return new Refused(
    'invalid',
    `${what} refused: it is not a JWS Apple signed (${(error as Error).message ?? 'unreadable'})`,
  );
}

function decode<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
  },
  value: unknown,
  what: string,
): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Refused(
    'invalid',
    `${what}: ${issue ? `${issue.path.join('.') || 'payload'} ${issue.message}` : 'not valid'}`,
  );
}

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Something that is not even a compact JWS is malformed input, not a failed signature. */
function shaped(jws: string, what: string): void {
  if (!JWS.test(jws)) {
    throw new Refused(
      'invalid',
      `${what} refused: it is not a compact JWS (three base64url parts separated by dots)`,
    );
  }
}

/**
 * A verifier for one app and environment. Each carries the library's cache of verified chains
 * (15 minutes), so callers keep one per app rather than one per transaction (verifierFor).
 */
export async function createVerifier(
  roots: readonly Buffer[],
  onlineChecks: boolean,
  app: AppIdentity,
): Promise<Verifier> {
  if (roots.length === 0) {
    throw new Refused(
      'not_configured',
      'signed payloads cannot be verified: no Apple root certificates are configured (set APPLE_ROOT_CERTIFICATES to AppleRootCA-G3.cer from https://www.apple.com/certificateauthority/), or send the transactions decoded',
    );
  }
  const { SignedDataVerifier, Environment } = await loadLibrary();
  const environment = app.environment === 'production' ? Environment.PRODUCTION : Environment.SANDBOX;
  const appAppleId = app.appStoreId === null ? undefined : Number(app.appStoreId);
  if (app.environment === 'production' && (appAppleId === undefined || !Number.isSafeInteger(appAppleId))) {
    throw new Refused(
      'not_configured',
      'the project has no App Store id: select its app (catalog-sync select-app) before sending production transactions',
    );
  }
  const verifier = new SignedDataVerifier([...roots], onlineChecks, environment, app.bundleId, appAppleId);
  const transaction = async (jws: string, what: string) => {
    shaped(jws, what);
    let decoded: unknown;
    try {
      decoded = await verifier.verifyAndDecodeTransaction(jws);
    } catch (error) {
      throw refusal(error, what);
    }
    return decode(decodedTransactionSchema, decoded, `${what} refused`);
  };
  const renewal = async (jws: string, what: string) => {
    shaped(jws, what);
    let decoded: unknown;
    try {
      decoded = await verifier.verifyAndDecodeRenewalInfo(jws);
    } catch (error) {
      throw refusal(error, what);
    }
    return decode(decodedRenewalInfoSchema, decoded, `${what} refused`);
  };
  return {
    async notification(signedPayload) {
      let payload: {
        notificationType?: string;
        subtype?: string;
        data?: { signedTransactionInfo?: string; signedRenewalInfo?: string };
      };
      shaped(signedPayload, 'the notification');
      try {
        payload = (await verifier.verifyAndDecodeNotification(signedPayload)) as typeof payload;
      } catch (error) {
        throw refusal(error, 'the notification');
      }
      const signedTransaction = payload.data?.signedTransactionInfo;
      if (!signedTransaction) {
        throw new Refused(
          'no_transaction',
          `the notification (${payload.notificationType ?? 'no type'}) carries no transaction to attribute`,
        );
      }
      return {
        transaction: await transaction(signedTransaction, "the notification's signedTransactionInfo"),
        renewalInfo: payload.data?.signedRenewalInfo
          ? await renewal(payload.data.signedRenewalInfo, "the notification's signedRenewalInfo")
          : undefined,
        notificationType: payload.notificationType,
        subtype: payload.subtype,
      };
    },
    async transaction(signedTransactionInfo, signedRenewalInfo) {
      return {
        transaction: await transaction(signedTransactionInfo, 'signedTransactionInfo'),
        renewalInfo: signedRenewalInfo ? await renewal(signedRenewalInfo, 'signedRenewalInfo') : undefined,
      };
    },
  };
}
