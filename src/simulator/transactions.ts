import { createPrivateKey, type KeyObject, sign, webcrypto } from 'node:crypto';

/*
 * Test data that looks like life: subscriber histories (trial → conversion → renewals → a price
 * increase with or without a preserved price → a year of paid service → a billing retry
 * recovered in grace → a refund) as Apple's decoded transactions, and the same signed the way
 * Apple signs them: an ES256 JWS whose `x5c` header carries leaf, intermediate and root, the
 * leaf with Apple's OID 1.2.840.113635.100.6.11.1 and the intermediate with
 * 1.2.840.113635.100.6.2.1. The chain is made here, for tests; configured as the root, it lets
 * `SignedDataVerifier` run its real chain checks (not the LocalTesting mode, which skips them).
 * The library checks certificate dates at the payload's `signedDate` when online checks are off
 * (they must be: a test chain has no OCSP responder), so the chain is valid from 2015 to 2045.
 */

type X509 = typeof import('@peculiar/x509');

/*
 * @peculiar/x509 uses tsyringe, which wants the `reflect-metadata` polyfill (not a dependency
 * here); the three functions it calls are given to it, kept per object and key.
 */
function reflectMetadata(): void {
  const R = Reflect as unknown as Record<string, unknown>;
  if (typeof R.getMetadata === 'function') return;
  const store = new WeakMap<object, Map<unknown, unknown>>();
  const own = (target: object, key: unknown) => store.get(target)?.get(key);
  R.defineMetadata = (key: unknown, value: unknown, target: object) => {
    const map = store.get(target) ?? new Map();
    map.set(key, value);
    store.set(target, map);
  };
  R.getOwnMetadata = (key: unknown, target: object) => own(target, key);
  R.getMetadata = (key: unknown, target: object) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const value = own(t, key);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

let x509Module: Promise<X509> | undefined;
function loadX509(): Promise<X509> {
  reflectMetadata();
  x509Module ??= import('@peculiar/x509').then((x509) => {
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  });
  return x509Module;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const LEAF_OID = '1.2.840.113635.100.6.11.1';
const INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';
// ASN.1 NULL: Apple's marker extensions carry no value that matters.
const ASN1_NULL = new Uint8Array([0x05, 0x00]).buffer;

export interface SigningChain {
  /** DER of the root, to configure as the trusted root (APPLE_ROOT_CERTIFICATES). */
  rootDer: Buffer;
  rootPem: string;
  /** The `x5c` header: leaf, intermediate, root (base64 DER). */
  x5c: string[];
  /** Signs a payload as Apple does (ES256 JWS with `x5c`). */
  sign(payload: object): string;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

type KeyPair = webcrypto.CryptoKeyPair;

async function keyPair(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
}

/** A root → intermediate → leaf chain with Apple's OIDs, named after Apple's (with "Test" in them). */
export async function createSigningChain(
  options: { notBefore?: Date; notAfter?: Date; name?: string } = {},
): Promise<SigningChain> {
  const notBefore = options.notBefore ?? new Date('2015-01-01T00:00:00Z');
  const notAfter = options.notAfter ?? new Date('2045-01-01T00:00:00Z');
  const name = options.name ?? 'catalog-sync Test';
  const x509 = await loadX509();
  const [rootKeys, intermediateKeys, leafKeys] = await Promise.all([keyPair(), keyPair(), keyPair()]);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${name} Root CA - G3, O=Test`,
    notBefore,
    notAfter,
    keys: rootKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const intermediate = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: `CN=${name} Worldwide Developer Relations CA - G6, O=Test`,
    issuer: root.subject,
    notBefore,
    notAfter,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.Extension(INTERMEDIATE_OID, false, ASN1_NULL),
    ],
  });
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '03',
    subject: `CN=${name} Store Receipt Signing, O=Test`,
    issuer: intermediate.subject,
    notBefore,
    notAfter,
    publicKey: leafKeys.publicKey,
    signingKey: intermediateKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.Extension(LEAF_OID, false, ASN1_NULL),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey));
  const leafKey: KeyObject = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const x5c = [leaf, intermediate, root].map((c) => Buffer.from(c.rawData).toString('base64'));
  const header = b64url(JSON.stringify({ alg: 'ES256', x5c }));
  return {
    rootDer: Buffer.from(root.rawData),
    rootPem: root.toString('pem'),
    x5c,
    sign(payload) {
      const input = `${header}.${b64url(JSON.stringify(payload))}`;
      const signature = sign('sha256', Buffer.from(input), { key: leafKey, dsaEncoding: 'ieee-p1363' });
      return `${input}.${b64url(signature)}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Subscriber histories

const DAY = 86_400_000;

/** Apple's decoded transaction fields (JWSTransactionDecodedPayload), as the generator fills them. */
export interface GeneratedTransaction {
  transactionId: string;
  originalTransactionId: string;
  webOrderLineItemId: string;
  bundleId: string;
  productId: string;
  subscriptionGroupIdentifier?: string;
  purchaseDate: number;
  originalPurchaseDate: number;
  expiresDate?: number;
  quantity: number;
  type: string;
  inAppOwnershipType: 'PURCHASED' | 'FAMILY_SHARED';
  signedDate: number;
  environment: 'Production' | 'Sandbox';
  transactionReason: 'PURCHASE' | 'RENEWAL';
  storefront: string;
  storefrontId: string;
  price: number;
  currency: string;
  offerType?: number;
  offerIdentifier?: string;
  offerDiscountType?: string;
  offerPeriod?: string;
  revocationDate?: number;
  revocationReason?: number;
  revocationType?: string;
  revocationPercentage?: number;
  appTransactionId?: string;
}

/** Decimal amount (`9.99`) → Apple's milliunits (`9990`), exactly. */
export function milliunits(amount: string): number {
  const [whole = '0', fraction = ''] = amount.split('.');
  return Number(whole) * 1000 + Number(fraction.padEnd(3, '0').slice(0, 3));
}

export interface HistoryOptions {
  bundleId: string;
  productId: string;
  /** ISO alpha-3 storefront and its currency. */
  storefront: string;
  currency: string;
  environment?: 'Production' | 'Sandbox';
  /** First purchase (start of the trial, when there is one). */
  start: Date;
  /** Days per period (30 for a monthly product: the generator's months are 30 days long). */
  periodDays: number;
  /** The subscriber's price per period before the increase (decimal string). */
  price: string;
  /** A free trial of this many days first (an introductory offer), or none. */
  trialDays?: number;
  /** Paid periods in all (the conversion included). */
  periods: number;
  /** From this period on (0-based, after the trial), the price is `increase.price`, unless preserved. */
  increase?: { fromPeriod: number; price: string; preserved: boolean };
  /** This renewal (0-based period) failed at its due date and was recovered after `days` days. */
  graceRecovery?: { period: number; days: number };
  /** A lapse of `days` days before this period (the subscriber came back). */
  lapse?: { beforePeriod: number; days: number };
  /** The last period was refunded `afterDays` after its purchase. */
  refund?: { afterDays: number; percentage?: number };
  /** Ids are `<idPrefix><n>`; default `2000000`. */
  idPrefix?: string;
}

/**
 * One subscriber's history, oldest first, as Apple would return it from the transaction
 * history: every transaction shares the original transaction id; each renewal is a new
 * transaction whose period follows the previous one's `expiresDate`.
 */
export function subscriberHistory(options: HistoryOptions): GeneratedTransaction[] {
  const prefix = options.idPrefix ?? '2000000';
  const original = `${prefix}1`;
  const environment = options.environment ?? 'Production';
  const out: GeneratedTransaction[] = [];
  let at = options.start.getTime();
  let n = 1;
  const base = (purchase: number, expires: number): GeneratedTransaction => ({
    transactionId: `${prefix}${n}`,
    originalTransactionId: original,
    webOrderLineItemId: `${prefix}9${n}`,
    bundleId: options.bundleId,
    productId: options.productId,
    purchaseDate: purchase,
    originalPurchaseDate: options.start.getTime(),
    expiresDate: expires,
    quantity: 1,
    type: 'Auto-Renewable Subscription',
    inAppOwnershipType: 'PURCHASED',
    signedDate: purchase,
    environment,
    transactionReason: n === 1 ? 'PURCHASE' : 'RENEWAL',
    storefront: options.storefront,
    storefrontId: '143441',
    price: 0,
    currency: options.currency,
  });
  if (options.trialDays) {
    const end = at + options.trialDays * DAY;
    out.push({
      ...base(at, end),
      offerType: 1,
      offerDiscountType: 'FREE_TRIAL',
      offerPeriod: `P${options.trialDays}D`,
    });
    at = end;
    n++;
  }
  for (let period = 0; period < options.periods; period++) {
    if (options.lapse?.beforePeriod === period) at += options.lapse.days * DAY;
    const due = at;
    const late = options.graceRecovery?.period === period ? options.graceRecovery.days * DAY : 0;
    const increased =
      options.increase && period >= options.increase.fromPeriod && !options.increase.preserved;
    const price = increased ? options.increase!.price : options.price;
    // Recovered within grace: Apple keeps the billing cycle, so the period still ends a period after the due date.
    const tx = base(due + late, due + options.periodDays * DAY);
    tx.price = milliunits(price);
    if (options.lapse?.beforePeriod === period) tx.transactionReason = 'PURCHASE';
    out.push(tx);
    at = due + options.periodDays * DAY;
    n++;
  }
  if (options.refund && out.length > 0) {
    const last = out.at(-1)!;
    last.revocationDate = last.purchaseDate + options.refund.afterDays * DAY;
    last.revocationReason = 0;
    last.revocationType = options.refund.percentage ? 'REFUND_PRORATED' : 'REFUND_FULL';
    if (options.refund.percentage) last.revocationPercentage = options.refund.percentage;
    last.signedDate = last.revocationDate;
  }
  return out;
}

/** A notification's signed body as Apple POSTs it (`{signedPayload}`), around one transaction. */
export function signedNotification(
  chain: SigningChain,
  options: {
    notificationType: string;
    subtype?: string;
    transaction: GeneratedTransaction;
    renewalInfo?: object;
    appAppleId: number;
    bundleId: string;
    notificationUUID?: string;
  },
): { signedPayload: string } {
  const { transaction } = options;
  const data: Record<string, unknown> = {
    appAppleId: options.appAppleId,
    bundleId: options.bundleId,
    bundleVersion: '1.0',
    environment: transaction.environment,
    signedTransactionInfo: chain.sign(transaction),
    status: 1,
  };
  if (options.renewalInfo) data.signedRenewalInfo = chain.sign(options.renewalInfo);
  const payload: Record<string, unknown> = {
    notificationType: options.notificationType,
    notificationUUID:
      options.notificationUUID ??
      `00000000-0000-4000-8000-${transaction.transactionId.padStart(12, '0').slice(-12)}`,
    data,
    version: '2.0',
    signedDate: transaction.signedDate,
  };
  if (options.subtype) payload.subtype = options.subtype;
  return { signedPayload: chain.sign(payload) };
}

/** The notification type Apple sends for a transaction of a history. */
export function notificationTypeOf(
  tx: GeneratedTransaction,
  index: number,
): { notificationType: string; subtype?: string } {
  if (tx.revocationDate !== undefined) return { notificationType: 'REFUND' };
  if (index === 0) return { notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY' };
  return { notificationType: 'DID_RENEW' };
}
