import { AppError, type AppErrorKind, boundText } from '../errors.ts';

/**
 * One taxonomy for every way App Store Connect can fail, so the rest of the worker can act
 * on `kind` (mark credentials invalid, reschedule, give up) without reading HTTP details.
 */
export const appStoreErrorKinds = [
  'auth',
  'forbidden',
  'not_found',
  'rate_limited',
  'transient',
  'schema',
  'invalid_request',
  /** A configured bound on what comes in was crossed (response size, JSON depth, attribute size). */
  'limit_exceeded',
] as const satisfies readonly AppErrorKind[];
export type AppStoreErrorKind = (typeof appStoreErrorKinds)[number];

export type ForbiddenReason = 'role' | 'agreements';

/** The first entry of Apple's `errors` array, trimmed to what a person needs. */
export interface AppleErrorInfo {
  code: string;
  title: string;
  detail?: string | undefined;
}

export interface AppStoreErrorOptions {
  status?: number | undefined;
  apple?: AppleErrorInfo | undefined;
  retryAfterMs?: number | undefined;
  forbiddenReason?: ForbiddenReason | undefined;
  /** The request it came from, without query string (`GET /v1/apps/1/inAppPurchasesV2`). */
  request?: string | undefined;
  cause?: unknown;
}

export class AppStoreError extends AppError {
  override name = 'AppStoreError';
  declare readonly kind: AppStoreErrorKind;
  readonly status: number | undefined;
  readonly apple: AppleErrorInfo | undefined;
  readonly retryAfterMs: number | undefined;
  readonly forbiddenReason: ForbiddenReason | undefined;
  readonly request: string | undefined;

  constructor(kind: AppStoreErrorKind, message: string, options: AppStoreErrorOptions = {}) {
    super(kind, message, {
      retryable: kind === 'transient' || kind === 'rate_limited',
      cause: options.cause,
    });
    this.status = options.status;
    this.apple = options.apple;
    this.retryAfterMs = options.retryAfterMs;
    this.forbiddenReason = options.forbiddenReason;
    this.request = options.request;
  }
}

export function isAppStoreError(error: unknown): error is AppStoreError {
  return error instanceof AppStoreError;
}

/** Shown when a key authenticates but sees no app (Verify & Fetch Apps). */
export const noAppsMessage =
  'No apps are linked to this API key: an App Manager key needs explicit access to the apps; Admin keys see all apps.';

export const authFailureMessage =
  'Failed to verify credentials: App Store Connect rejected the API key. Check that ' +
  '(1) the Key ID is the key\u2019s 10-character ID, not the key\u2019s name; ' +
  '(2) the Issuer ID is the one shown on the App Store Connect API tab of Users and Access \u2192 Integrations, ' +
  'not the In-App Purchase tab; ' +
  '(3) the .p8 file is the one downloaded for that Key ID; ' +
  '(4) this machine\u2019s clock is correct (tokens are only valid for a few minutes).';

export const forbiddenRoleMessage =
  'App Store Connect refused the request: the API key\u2019s role does not allow it. ' +
  'Give the key the Admin or App Manager role in Users and Access \u2192 Integrations ' +
  '(an App Manager key also needs access to this app), then verify again.';

export const forbiddenAgreementsMessage =
  'App Store Connect refused the request: a required agreement is missing or has expired. ' +
  'The Account Holder must sign in to App Store Connect and accept it under Business, then verify again.';

const AGREEMENTS_CODE = 'FORBIDDEN.REQUIRED_AGREEMENTS';

/** Apple's codes are hierarchical; Apple asks for prefix matching. */
export function forbiddenReasonOf(apple: AppleErrorInfo | undefined): ForbiddenReason {
  return apple?.code.startsWith(AGREEMENTS_CODE) ? 'agreements' : 'role';
}

/** Apple's `detail` as quoted in a message: enough to act on, never megabytes. */
export const APPLE_DETAIL_MAX_CHARS = 500;
/** Apple's codes and titles are short; these bounds only stop a hostile body. */
const APPLE_CODE_MAX_CHARS = 200;

/** Apple's error as received, bounded: code and title whole (up to a hostile length), detail cut. */
export function boundAppleError(apple: AppleErrorInfo, detailMax = APPLE_DETAIL_MAX_CHARS): AppleErrorInfo {
  return {
    code: boundText(apple.code, APPLE_CODE_MAX_CHARS),
    title: boundText(apple.title, APPLE_CODE_MAX_CHARS),
    detail: apple.detail === undefined ? undefined : boundText(apple.detail, detailMax),
  };
}

function appleSuffix(status: number, apple: AppleErrorInfo | undefined): string {
  if (!apple) return `HTTP ${status}`;
  const detail = apple.detail ?? apple.title;
  return `HTTP ${status} ${apple.code}: ${detail}`;
}

export interface ResponseErrorInput {
  status: number;
  apple?: AppleErrorInfo | undefined;
  /** `GET /v1/apps` — what was asked, for the message. */
  request: string;
  retryAfterMs?: number | undefined;
  attempts?: number | undefined;
  /** Apple's detail is cut to this many characters (APP_STORE_CONNECT_MAX_ERROR_DETAIL_CHARS). */
  detailMaxChars?: number | undefined;
}

/**
 * Maps a non-2xx response to the taxonomy. Pure: the transport decides when to call it
 * (after retries for 429/5xx, after the fresh-token retry for 401).
 */
export function errorFromResponse(input: ResponseErrorInput): AppStoreError {
  const { status, request, retryAfterMs } = input;
  const apple = input.apple && boundAppleError(input.apple, input.detailMaxChars);
  const base = { status, apple, request };
  const said = `(${appleSuffix(status, apple)})`;
  const tries = input.attempts && input.attempts > 1 ? ` after ${input.attempts} attempts` : '';

  if (status === 401) return new AppStoreError('auth', `${authFailureMessage} ${said}`, base);
  if (status === 403) {
    const reason = forbiddenReasonOf(apple);
    const text = reason === 'agreements' ? forbiddenAgreementsMessage : forbiddenRoleMessage;
    return new AppStoreError('forbidden', `${text} ${said}`, { ...base, forbiddenReason: reason });
  }
  if (status === 404) {
    return new AppStoreError(
      'not_found',
      `App Store Connect has nothing at ${request} ${said}. Check that the app still exists and that the API key can access it.`,
      base,
    );
  }
  if (status === 429) {
    const wait = retryAfterMs === undefined ? 'a few minutes' : `${Math.ceil(retryAfterMs / 1000)} s`;
    return new AppStoreError(
      'rate_limited',
      `App Store Connect rate limit reached for this API key at ${request}${tries} ${said}. ` +
        `Wait ${wait} and try again; if it recurs, lower APP_STORE_CONNECT_CONCURRENCY or sync less often.`,
      { ...base, retryAfterMs },
    );
  }
  if (status >= 500) {
    return new AppStoreError(
      'transient',
      `App Store Connect failed to answer ${request}${tries} ${said}. This is usually temporary: try again later.`,
      { ...base, retryAfterMs },
    );
  }
  return new AppStoreError(
    'invalid_request',
    `App Store Connect rejected ${request} ${said}. The worker sent a request Apple does not accept; ` +
      'this needs a fix in the worker (or Apple changed the API): report it with this message.',
    base,
  );
}

/** A request that never got a usable HTTP answer: reset, timeout, refused, unreadable body. */
export function transientNetworkError(request: string, what: string, attempts: number): AppStoreError {
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  return new AppStoreError(
    'transient',
    `App Store Connect could not be reached for ${request}${tries} (${what}). ` +
      'This is usually temporary: check the network and try again later.',
    { request },
  );
}

export function schemaError(request: string, problem: string): AppStoreError {
  return new AppStoreError(
    'schema',
    `App Store Connect returned a response to ${request} that does not have the expected shape: ${problem}. ` +
      'Apple may have changed the API; the worker needs an update (report this message).',
    { request },
  );
}

export function invalidRequestError(request: string, message: string): AppStoreError {
  return new AppStoreError('invalid_request', message, { request });
}

/** Names of the variables behind each bound, so the message says what to raise. */
export const LIMIT_VARIABLES = {
  responseBytes: 'APP_STORE_CONNECT_MAX_RESPONSE_BYTES',
  jsonDepth: 'APP_STORE_CONNECT_MAX_JSON_DEPTH',
  productAttributesBytes: 'SYNC_MAX_PRODUCT_ATTRIBUTES_BYTES',
} as const;

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** A body past APP_STORE_CONNECT_MAX_RESPONSE_BYTES (counted after decompression). Not retried. */
export function responseTooLargeError(request: string, limit: number): AppStoreError {
  return new AppStoreError(
    'limit_exceeded',
    `App Store Connect's answer to ${request} is larger than the limit of ${formatBytes(limit)} ` +
      `(${LIMIT_VARIABLES.responseBytes}, counted after decompression); the request was stopped and ` +
      `this sync was not applied or retried. If the catalog really is this large, raise ${LIMIT_VARIABLES.responseBytes}.`,
    { request },
  );
}

/** A JSON document nested deeper than APP_STORE_CONNECT_MAX_JSON_DEPTH. Not retried. */
export function documentTooDeepError(request: string, limit: number): AppStoreError {
  return new AppStoreError(
    'limit_exceeded',
    `App Store Connect's answer to ${request} is nested deeper than the limit of ${limit} levels ` +
      `(${LIMIT_VARIABLES.jsonDepth}); this sync was not applied or retried. ` +
      `If Apple's documents really are this deep, raise ${LIMIT_VARIABLES.jsonDepth}.`,
    { request },
  );
}

/** One product's raw attributes past SYNC_MAX_PRODUCT_ATTRIBUTES_BYTES. Not retried. */
export function attributesTooLargeError(product: string, bytes: number, limit: number): AppStoreError {
  return new AppStoreError(
    'limit_exceeded',
    `The attributes of ${product} take ${formatBytes(bytes)} as JSON, more than the limit of ${formatBytes(limit)} ` +
      `per product (${LIMIT_VARIABLES.productAttributesBytes}); this sync was not applied or retried. ` +
      `Check the product in App Store Connect, or raise ${LIMIT_VARIABLES.productAttributesBytes}.`,
  );
}
