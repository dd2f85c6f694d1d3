import { z } from 'zod';
import { DURATION_HINT, parseDuration } from '../time/duration.ts';

/**
 * All configuration comes from the environment, parsed once by this schema.
 * Invalid input fails start-up with one message listing every bad variable; values are
 * never echoed (some of them are secrets).
 */

const APPLE_BASE_URL = 'https://api.appstoreconnect.apple.com';

const url = (protocols: string[], hint: string) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a ${hint} URL` },
  );

const emptyAsUndefined = (value: unknown) => (value === '' ? undefined : value);

const inRange = (min: number, max: number) =>
  z
    .number()
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

/**
 * A whole number written in decimal digits, within [min, max]; unset or empty means `fallback`.
 * Strict on purpose: `Number()` would read `1e3` as 1000 and `0x10` as 16, which nobody
 * reading the variable would expect.
 */
export const intFrom = (min: number, max: number, fallback: number) =>
  z
    .preprocess(
      (value) =>
        value === undefined || value === '' ? undefined : typeof value === 'number' ? String(value) : value,
      z
        .string()
        .regex(/^[0-9]{1,15}$/, {
          message: `must be a whole number in decimal digits only (no sign, exponent, hex prefix or decimal point), from ${min} to ${max}`,
        })
        .transform(Number)
        .pipe(inRange(min, max))
        .optional(),
    )
    .transform((value) => value ?? fallback);

/** An optional whole number from `min` to `max`, in digits only; unset or empty: undefined. */
const optionalIntFrom = (min: number, max: number) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(new RegExp(`^\\d{1,${String(max).length}}$`), {
        message: `must be a whole number from ${min} to ${max} (digits only)`,
      })
      .transform(Number)
      .pipe(inRange(min, max))
      .optional(),
  );

/** 32 bytes, as base64 (44 chars) or hex (64 chars). `openssl rand -base64 32` makes one. */
const encryptionKey = z.string().refine((value) => decodeEncryptionKey(value) !== undefined, {
  message: 'must be 32 random bytes, base64- or hex-encoded (make one with `openssl rand -base64 32`)',
});

export function decodeEncryptionKey(value: string): Uint8Array | undefined {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Uint8Array.from(Buffer.from(trimmed, 'hex'));
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed, 'base64');
    if (bytes.length === 32) return Uint8Array.from(bytes);
  }
  return undefined;
}

/** A console token must be long enough not to be guessed (`openssl rand -base64 24` makes one). */
const consoleToken = z
  .string()
  .min(16, { message: 'must be at least 16 characters (make one with `openssl rand -base64 24`)' })
  .max(500, { message: 'must be at most 500 characters' });

/** `true`/`false` (also 1/0, yes/no); anything else is an error, never silently false. */
const flag = (fallback: boolean) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1' || value === 'yes'),
  );

/** Svix-like: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 28 h in all). */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

const retrySchedule = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .regex(/^\s*\d{1,10}(\s*,\s*\d{1,10}){0,29}\s*$/, {
      message: 'must be 1–30 comma-separated whole numbers of milliseconds (the waits between attempts)',
    })
    .transform((value) => value.split(',').map((n) => Number(n.trim())))
    .optional(),
);

export const envSchema = z
  .object({
    NODE_ENV: z
      .enum(['development', 'production', 'test'])
      .default('development')
      .describe('`development`, `production` or `test`; in production the log defaults to JSON.'),
    /** Unset: the CLI uses an embedded Postgres (PGlite) under DATA_DIR. */
    DATABASE_URL: z
      .preprocess(emptyAsUndefined, url(['postgres:', 'postgresql:'], 'postgres://').optional())
      .describe(
        'Postgres URL (`postgres://…`). Unset: the CLI uses an embedded Postgres (PGlite) in `DATA_DIR`.',
      ),
    DATA_DIR: z
      .string()
      .min(1)
      .default('.data')
      .describe("Folder of the embedded database and the simulator's keys."),
    /** Postgres connections per worker process; unset: sized from WORKER_CONCURRENCY (jobs/pool.ts). */
    DATABASE_POOL_MAX: optionalIntFrom(2, 1000).describe(
      'Postgres connections per worker process (× processes × hosts must stay within `max_connections`). Unset: `min(WORKER_CONCURRENCY, 16)` + 4 + `EVENTS_DISPATCH_CONCURRENCY`.',
    ),
    REDIS_URL: url(['redis:', 'rediss:'], 'redis:// or rediss://')
      .default('redis://127.0.0.1:6379')
      .describe('Redis for the BullMQ queue (`redis://` or `rediss://`).'),
    /** BullMQ key prefix; use a hash tag such as `{catalog-sync}` on Redis Cluster. */
    REDIS_PREFIX: z
      .string()
      .min(1)
      .default('catalog-sync')
      .describe('BullMQ key prefix; on Redis Cluster it must hold a hash tag such as `{catalog-sync}`.'),
    /**
     * Redis Cluster seed nodes, comma-separated `host:port`; set, it replaces REDIS_URL's host (the
     * URL's password, user and TLS still apply) and REDIS_PREFIX must hold a `{hash tag}`.
     */
    REDIS_CLUSTER_NODES: z
      .preprocess(
        emptyAsUndefined,
        z
          .string()
          .refine((value) => value.split(',').every((node) => /^\s*[^\s:]+:\d{1,5}\s*$/.test(node)), {
            message: 'must be a comma-separated list of host:port',
          })
          .optional(),
      )
      .describe(
        "Redis Cluster seed nodes, `host:port,host:port` (REDIS_URL's password, user and TLS still apply); needs a `{…}` prefix. Unset: one Redis server.",
      ),
    APP_STORE_CONNECT_BASE_URL: url(['https:', 'http:'], 'http(s)://')
      .default(APPLE_BASE_URL)
      .describe('The App Store Connect API (or the simulator).'),
    /** Current key for the `.p8` at rest (JWE dir + A256GCM). */
    CREDENTIALS_ENCRYPTION_KEY: z
      .preprocess(emptyAsUndefined, encryptionKey.optional())
      .describe(
        '32 bytes, base64 or hex (`openssl rand -base64 32`), sealing each `.p8` at rest. Required to save or use credentials.',
      ),
    /** Older keys, comma-separated, still accepted for decryption while rotating. */
    CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS: z
      .preprocess(
        emptyAsUndefined,
        z
          .string()
          .refine((value) => value.split(',').every((k) => decodeEncryptionKey(k) !== undefined), {
            message: 'must be a comma-separated list of 32-byte base64 or hex keys',
          })
          .optional(),
      )
      .describe('Comma-separated older keys, still accepted for decryption while rotating.'),
    WORKER_CONCURRENCY: intFrom(1, 1000, 10).describe('Jobs one worker process runs at once.'),
    /** Worker processes under one supervisor (`worker --processes N`); unset: one per available core. */
    WORKER_PROCESSES: optionalIntFrom(1, 256).describe(
      'Worker processes under one supervisor; `worker --processes N` overrides. Unset: the available cores (CPU quota aware).',
    ),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('`fatal` … `trace`, or `silent`.'),
    /** `pretty` for a terminal, `json` for production; default: pretty on a TTY outside production. */
    LOG_FORMAT: z
      .preprocess(emptyAsUndefined, z.enum(['json', 'pretty']).optional())
      .describe('`json` or `pretty`. Unset: `pretty` on a terminal outside production, else `json`.'),
    APP_STORE_CONNECT_CONNECT_TIMEOUT_MS: intFrom(100, 120_000, 5_000).describe(
      'TCP/TLS connect timeout of a request to Apple.',
    ),
    APP_STORE_CONNECT_RESPONSE_TIMEOUT_MS: intFrom(100, 300_000, 30_000).describe(
      'Time to the first response byte.',
    ),
    APP_STORE_CONNECT_MAX_RETRIES: intFrom(0, 10, 4).describe(
      'Retries of a GET on 429, 5xx and network errors.',
    ),
    /** Upper bound on any single wait, including a server's Retry-After. */
    APP_STORE_CONNECT_RETRY_CAP_MS: intFrom(0, 3_600_000, 60_000).describe(
      'Cap on any wait between retries, `Retry-After` included.',
    ),
    APP_STORE_CONNECT_MAX_PAGES: intFrom(1, 100_000, 1_000).describe(
      'Pagination ceiling per listing; past it the sync fails, naming this variable.',
    ),
    /** Requests in flight per sync (Apple throttles bursts even with hourly budget left). */
    APP_STORE_CONNECT_CONCURRENCY: intFrom(1, 64, 8).describe(
      'Requests in flight per sync (Apple throttles bursts even with hourly budget left).',
    ),
    /** Largest App Store Connect response body, counted after decompression (default 32 MiB). */
    APP_STORE_CONNECT_MAX_RESPONSE_BYTES: intFrom(1_024, 1_073_741_824, 33_554_432).describe(
      'Largest response body, counted after decompression (32 MiB); the request is stopped past it.',
    ),
    /** Deepest nesting of arrays/objects accepted in one JSON document. */
    APP_STORE_CONNECT_MAX_JSON_DEPTH: intFrom(8, 10_000, 64).describe(
      'Deepest nesting of arrays/objects accepted in one JSON document.',
    ),
    /** Apple's error `detail` is cut to this many characters wherever it is quoted. */
    APP_STORE_CONNECT_MAX_ERROR_DETAIL_CHARS: intFrom(50, 100_000, 500).describe(
      "Apple's error `detail` is cut to this many characters wherever it is quoted (its code and title are kept).",
    ),
    /** Largest raw attribute JSON stored per product (default 64 KiB). */
    SYNC_MAX_PRODUCT_ATTRIBUTES_BYTES: intFrom(1_024, 16_777_216, 65_536).describe(
      'Largest raw attribute JSON stored per product, group or grace record (64 KiB).',
    ),
    /** Any error text stored or logged (run row, job failure reason, log line) is cut to this. */
    ERROR_TEXT_MAX_CHARS: intFrom(200, 1_000_000, 2_000).describe(
      'Any error text stored or logged (run row, job failure reason, log line) is cut to this.',
    ),
    /** Shortest interval between two runs of a schedule (`--every` and cron alike). */
    SCHEDULE_MIN_INTERVAL_SECONDS: intFrom(1, 86_400, 300).describe(
      'Shortest interval of a schedule (`--every`, and the gap between two cron runs).',
    ),
    SYNC_ATTEMPTS: intFrom(1, 50, 5).describe('Attempts for a sync that fails transiently.'),
    SHUTDOWN_TIMEOUT_MS: intFrom(0, 600_000, 30_000).describe(
      'The longest a SIGTERM takes: active jobs drain for it, less up to 3 s kept for closing connections.',
    ),
    /** A job's lock without renewal; a killed worker's job is picked up again after about this long. */
    WORKER_LOCK_DURATION_MS: intFrom(1_000, 600_000, 15_000).describe(
      "A job's lock without renewal; a killed worker's job is picked up again after about this long, and a job whose outcome Redis cannot record is let go (its slot freed) after this long.",
    ),
    /** How often a worker looks for stalled jobs (their worker died) and puts them back. */
    WORKER_STALLED_INTERVAL_MS: intFrom(500, 600_000, 5_000).describe(
      'How often a worker looks for stalled jobs (their worker died) and puts them back.',
    ),
    /** How often a worker re-checks that Redis's schedulers mirror Postgres; 0 = only at start-up. */
    SCHEDULE_RECONCILE_INTERVAL_MS: intFrom(0, 86_400_000, 300_000).describe(
      "How often a worker re-checks that Redis's schedulers mirror the schedules in Postgres; `0` = only at start-up.",
    ),
    // --- outages
    /** How often a running sync refreshes its run's heartbeat. */
    SYNC_HEARTBEAT_INTERVAL_MS: intFrom(100, 600_000, 10_000).describe(
      "How often a running sync refreshes its run's `heartbeat_at`.",
    ),
    /** A `running` run whose heartbeat is older than this is ended as `abandoned` (keep it well above the interval). */
    SYNC_RUN_STALE_AFTER_MS: intFrom(1_000, 86_400_000, 90_000).describe(
      'A `running` run whose heartbeat is older than this is ended as `abandoned` (keep it at least 3 × the heartbeat).',
    ),
    /** How often a worker sweeps for abandoned runs (also at start-up); 0 = only at start-up. */
    SYNC_RUN_SWEEP_INTERVAL_MS: intFrom(0, 86_400_000, 30_000).describe(
      'How often a worker sweeps for abandoned runs (also at start-up); `0` = only at start-up.',
    ),
    /** First wait of a job that found the database unreachable (doubles per deferral, no attempt used). */
    DATABASE_RETRY_DELAY_MS: intFrom(100, 600_000, 5_000).describe(
      'First wait of a job that found Postgres unreachable (doubles per deferral, no attempt used).',
    ),
    /** Longest wait between two tries while the database stays unreachable. */
    DATABASE_RETRY_MAX_DELAY_MS: intFrom(100, 3_600_000, 60_000).describe(
      'Longest wait between two tries while Postgres stays unreachable.',
    ),
    // --- end outages
    /** Health and metrics port for the worker; 0 turns the server off. */
    METRICS_PORT: intFrom(0, 65_535, 9464).describe(
      'Port of `/healthz`, `/readyz`, `/metrics` and the console; `0` turns the server off.',
    ),
    /** Loopback by default: set 0.0.0.0 (and METRICS_TOKEN) to expose /metrics and /readyz. */
    METRICS_HOST: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Loopback by default: set `0.0.0.0` (and `METRICS_TOKEN`) to expose it.'),
    /** When set, /metrics and /readyz want `Authorization: Bearer <token>` (/livez stays open). */
    METRICS_TOKEN: z
      .preprocess(
        emptyAsUndefined,
        z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
      )
      .describe(
        'When set (16+ characters), `/readyz` and `/metrics` want `Authorization: Bearer <token>` (`/livez` stays open).',
      ),
    /** Label App Store series with each customer's Key ID (off: one series for all keys). */
    METRICS_KEY_ID_LABELS: flag(false).describe(
      "`true` labels App Store rate-limit series with each customer's Key ID (off: one series for all keys).",
    ),
    /** Put every event on the `catalog-sync-events` BullMQ queue too (opt-in). */
    EVENTS_QUEUE: flag(false).describe('Also put every event on the BullMQ queue `catalog-sync-events`.'),
    /** How often an idle dispatcher looks at the outbox (it is also woken by NOTIFY on Postgres). */
    EVENTS_DISPATCH_INTERVAL_MS: intFrom(50, 60_000, 1_000).describe(
      'How often an idle dispatcher polls the outbox (it is also woken by NOTIFY on Postgres).',
    ),
    /** Webhook requests in flight per worker process. */
    EVENTS_DISPATCH_CONCURRENCY: intFrom(1, 64, 4).describe('Webhook requests in flight per worker process.'),
    /** Events, deliveries and their log are deleted after this many days. */
    EVENTS_RETENTION_DAYS: intFrom(1, 3_650, 30).describe(
      'Events, deliveries and the delivery log are pruned after this many days.',
    ),
    /** Plain http:// webhooks to loopback (127.0.0.0/8, ::1, localhost) — development and tests only. */
    WEBHOOKS_ALLOW_HTTP_LOOPBACK: flag(false).describe(
      'Allow plain `http://` webhooks to loopback (127.0.0.0/8, ::1, localhost): development and tests only.',
    ),
    /** Webhooks to private, link-local, loopback and other non-public addresses (off: SSRF guard). */
    WEBHOOKS_ALLOW_PRIVATE_ADDRESSES: flag(false).describe(
      'Allow webhooks to private, link-local, loopback and other non-public addresses (off: the SSRF guard).',
    ),
    WEBHOOKS_TIMEOUT_MS: intFrom(100, 60_000, 10_000).describe(
      'Whole-request timeout of one webhook attempt.',
    ),
    /** Waits between attempts, comma-separated milliseconds; one attempt more than entries. */
    WEBHOOKS_RETRY_SCHEDULE_MS: retrySchedule.describe(
      'Waits between webhook attempts, comma-separated milliseconds (one attempt more than entries). Unset: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over about 28 h).',
    ),
    /** An endpoint failing without a success for this long is disabled (default 5 days). */
    WEBHOOKS_DISABLE_AFTER_MS: intFrom(0, 90 * 86_400_000, 5 * 86_400_000).describe(
      'An endpoint failing without a success this long (5 days) is disabled; `0` = never.',
    ),
    /** After a rotation, requests carry signatures with the old secret too for this long. */
    WEBHOOKS_ROTATION_GRACE_MS: intFrom(0, 30 * 86_400_000, 86_400_000).describe(
      'After `webhooks rotate`, requests are signed with the old secret too for this long (24 h).',
    ),
    /** Hold before an event that keeps failing stops holding the later events behind it. */
    WEBHOOKS_ORDER_HOLD_MS: intFrom(0, 7 * 86_400_000, 3_600_000).describe(
      'A delivery failing this long stops holding the later events of its project for that endpoint (they go out; it keeps retrying on its own schedule). One hour.',
    ),
    /** Operator console: off unless one of the tokens is set. Full access (pages and actions). */
    CONSOLE_TOKEN: z
      .preprocess(emptyAsUndefined, consoleToken.optional())
      .describe(
        'Operator console, full access (pages and actions); 16+ characters (`openssl rand -base64 24`). The console is off unless this or `CONSOLE_READ_TOKEN` is set.',
      ),
    /** Read-only access to the console (pages, no actions). */
    CONSOLE_READ_TOKEN: z
      .preprocess(emptyAsUndefined, consoleToken.optional())
      .describe('Operator console, read-only (pages only); must differ from `CONSOLE_TOKEN`.'),
    /** How long a console login lasts. */
    CONSOLE_SESSION_HOURS: intFrom(1, 720, 12).describe(
      'How long a console login lasts (logging out or changing a token ends it sooner).',
    ),
    /** Share (0–1) of each key's hourly budget that detail refreshes may spend. */
    DETAILS_BUDGET_SHARE: z.coerce
      .number({ message: 'must be a number between 0 and 1' })
      .min(0, { message: 'must be at least 0' })
      .max(1, { message: 'must be at most 1' })
      .default(0.5)
      .describe(
        "Share (0–1) of each key's hourly App Store Connect budget that detail refreshes may spend; `0` turns the worker's detail refresh off.",
      ),
    /** How old a product's details may get before they are read again (`24h`, `90m`, `2d` or seconds). */
    DETAILS_MAX_AGE: z
      .string()
      .refine(
        (text) => {
          try {
            return durationMs(text) > 0;
          } catch {
            return false;
          }
        },
        { message: `must be a duration such as 24h, 90m, 2d or 1w (${DURATION_HINT}), or whole seconds` },
      )
      .default('24h')
      .describe(
        "A product's details are read again before they pass this age (`90m`, `24h`, `2d`, or whole seconds).",
      ),
    /** Apple's requests per key per rolling hour (the X-Rate-Limit header corrects it). */
    APP_STORE_CONNECT_HOURLY_LIMIT: intFrom(1, 1_000_000, 3_600).describe(
      "Apple's requests per key per rolling hour (corrected by the `X-Rate-Limit` header).",
    ),
    /** The budget's window in seconds (3600; tests and benchmarks scale it down). */
    DETAILS_BUDGET_WINDOW_SECONDS: intFrom(1, 86_400, 3_600).describe(
      "The details budget's window in seconds (tests and benchmarks scale it down).",
    ),
    API_IN_WORKER: flag(true).describe(
      "Whether the worker's HTTP server (METRICS_PORT) also serves the HTTP API under /api/v1 (`catalog-sync serve` always does).",
    ),
    API_PORT: intFrom(0, 65_535, 9466).describe("`catalog-sync serve`'s port."),
    API_HOST: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe("`catalog-sync serve`'s interface (loopback unless set otherwise)."),
    API_RATE_LIMIT_PER_MINUTE: intFrom(1, 1_000_000, 600).describe(
      'HTTP API requests per minute per service token, per process; over it, 429 with Retry-After.',
    ),
    API_MAX_BODY_BYTES: intFrom(1_024, 1_048_576, 16_384).describe(
      'Largest HTTP API request body in bytes (a .p8 is about 250).',
    ),
    API_MAX_TRANSACTIONS_BODY_BYTES: intFrom(16_384, 268_435_456, 8_388_608).describe(
      'Largest body in bytes of the HTTP API routes that take transactions (attribution, batches): a signed notification is about 10 KB, a decoded transaction under 1 KB.',
    ),
    API_VERIFY_TIMEOUT_MS: intFrom(1_000, 600_000, 30_000).describe(
      'How long "Verify & Fetch Apps" over HTTP may keep a request waiting before a 504 (the check goes on).',
    ),
    /**
     * Apple's root certificates for signed transactions, by file; none are bundled, so without
     * them signed input is refused (decoded input is still attributed).
     */
    APPLE_ROOT_CERTIFICATES: z
      .preprocess(emptyAsUndefined, z.string().max(10_000).optional())
      .describe(
        "Apple's root certificates for verifying signed transactions: comma-separated paths to DER (`.cer`) or PEM files (AppleRootCA-G3.cer from https://www.apple.com/certificateauthority/). None are bundled; unset, signed input is refused (decoded input is still attributed).",
      ),
    /** Apple's library recommends online checks in production; tests without a network turn them off. */
    APPLE_VERIFY_ONLINE: flag(true).describe(
      "Check Apple's certificates online (OCSP) and against the current date rather than the payload's signing date, as Apple's library recommends in production.",
    ),
  })
  .refine((env) => !env.REDIS_CLUSTER_NODES || /\{[^{}]+\}/.test(env.REDIS_PREFIX), {
    // BullMQ's scripts touch several keys of a queue at once; on a cluster they must share a slot.
    message: 'must hold a hash tag such as {catalog-sync} when REDIS_CLUSTER_NODES is set',
    path: ['REDIS_PREFIX'],
  });

/** `24h` → 86 400 000 ms, in the one duration grammar (src/time/duration.ts); a bare number is seconds. */
export function durationMs(text: string): number {
  const trimmed = text.trim();
  return (/^\d+$/.test(trimmed) ? Number(trimmed) : parseDuration(trimmed, 'duration')) * 1000;
}

export type Env = z.infer<typeof envSchema>;

export type Config = ReturnType<typeof toConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function toConfig(env: Env) {
  return {
    nodeEnv: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    /** Undefined: the worker sizes its pool from its concurrency (workerPoolSize in jobs/main.ts). */
    databasePoolMax: env.DATABASE_POOL_MAX,
    redis: {
      url: env.REDIS_URL,
      prefix: env.REDIS_PREFIX,
      /** Set: Redis Cluster mode, seeded from these nodes. */
      clusterNodes: env.REDIS_CLUSTER_NODES?.split(',').map((node) => node.trim()),
    },
    appStore: {
      baseUrl: env.APP_STORE_CONNECT_BASE_URL.replace(/\/+$/, ''),
      connectTimeoutMs: env.APP_STORE_CONNECT_CONNECT_TIMEOUT_MS,
      responseTimeoutMs: env.APP_STORE_CONNECT_RESPONSE_TIMEOUT_MS,
      maxRetries: env.APP_STORE_CONNECT_MAX_RETRIES,
      retryCapMs: env.APP_STORE_CONNECT_RETRY_CAP_MS,
      maxPages: env.APP_STORE_CONNECT_MAX_PAGES,
      concurrency: env.APP_STORE_CONNECT_CONCURRENCY,
      maxResponseBytes: env.APP_STORE_CONNECT_MAX_RESPONSE_BYTES,
      maxJsonDepth: env.APP_STORE_CONNECT_MAX_JSON_DEPTH,
      maxErrorDetailChars: env.APP_STORE_CONNECT_MAX_ERROR_DETAIL_CHARS,
    },
    limits: {
      productAttributesBytes: env.SYNC_MAX_PRODUCT_ATTRIBUTES_BYTES,
      errorTextChars: env.ERROR_TEXT_MAX_CHARS,
      scheduleMinIntervalSeconds: env.SCHEDULE_MIN_INTERVAL_SECONDS,
    },
    credentials: {
      encryptionKey: env.CREDENTIALS_ENCRYPTION_KEY,
      previousKeys: env.CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS?.split(',').map((k) => k.trim()) ?? [],
    },
    worker: {
      concurrency: env.WORKER_CONCURRENCY,
      /** Undefined: one per available core (jobs/cores.ts). */
      processes: env.WORKER_PROCESSES,
      syncAttempts: env.SYNC_ATTEMPTS,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      lockDurationMs: env.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
      scheduleReconcileIntervalMs: env.SCHEDULE_RECONCILE_INTERVAL_MS,
      heartbeatIntervalMs: env.SYNC_HEARTBEAT_INTERVAL_MS,
      runStaleAfterMs: Math.max(env.SYNC_RUN_STALE_AFTER_MS, env.SYNC_HEARTBEAT_INTERVAL_MS * 3),
      runSweepIntervalMs: env.SYNC_RUN_SWEEP_INTERVAL_MS,
      databaseRetryDelayMs: env.DATABASE_RETRY_DELAY_MS,
      databaseRetryMaxDelayMs: Math.max(env.DATABASE_RETRY_MAX_DELAY_MS, env.DATABASE_RETRY_DELAY_MS),
    },
    metrics: {
      port: env.METRICS_PORT,
      host: env.METRICS_HOST,
      token: env.METRICS_TOKEN,
      keyIdLabels: env.METRICS_KEY_ID_LABELS,
    },
    events: {
      queue: env.EVENTS_QUEUE,
      dispatchIntervalMs: env.EVENTS_DISPATCH_INTERVAL_MS,
      dispatchConcurrency: env.EVENTS_DISPATCH_CONCURRENCY,
      retentionDays: env.EVENTS_RETENTION_DAYS,
    },
    webhooks: {
      allowHttpLoopback: env.WEBHOOKS_ALLOW_HTTP_LOOPBACK,
      allowPrivateAddresses: env.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES,
      timeoutMs: env.WEBHOOKS_TIMEOUT_MS,
      retryScheduleMs: env.WEBHOOKS_RETRY_SCHEDULE_MS ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS,
      disableAfterMs: env.WEBHOOKS_DISABLE_AFTER_MS,
      rotationGraceMs: env.WEBHOOKS_ROTATION_GRACE_MS,
      orderHoldMs: env.WEBHOOKS_ORDER_HOLD_MS,
    },
    console: {
      /** Off unless a token is set. */
      enabled: Boolean(env.CONSOLE_TOKEN || env.CONSOLE_READ_TOKEN),
      writeToken: env.CONSOLE_TOKEN,
      readToken: env.CONSOLE_READ_TOKEN,
      sessionTtlMs: env.CONSOLE_SESSION_HOURS * 3_600_000,
    },
    attribution: {
      rootCertificateFiles:
        env.APPLE_ROOT_CERTIFICATES?.split(',')
          .map((file) => file.trim())
          .filter((file) => file !== '') ?? [],
      onlineChecks: env.APPLE_VERIFY_ONLINE,
    },
    details: {
      budgetShare: env.DETAILS_BUDGET_SHARE,
      maxAgeMs: durationMs(env.DETAILS_MAX_AGE),
      hourlyLimit: env.APP_STORE_CONNECT_HOURLY_LIMIT,
      windowSeconds: env.DETAILS_BUDGET_WINDOW_SECONDS,
    },
    api: {
      inWorker: env.API_IN_WORKER,
      port: env.API_PORT,
      host: env.API_HOST,
      rateLimitPerMinute: env.API_RATE_LIMIT_PER_MINUTE,
      maxBodyBytes: env.API_MAX_BODY_BYTES,
      maxTransactionsBodyBytes: env.API_MAX_TRANSACTIONS_BODY_BYTES,
      verifyTimeoutMs: env.API_VERIFY_TIMEOUT_MS,
    },
    log: {
      level: env.LOG_LEVEL,
      format: env.LOG_FORMAT ?? (process.stdout.isTTY && env.NODE_ENV !== 'production' ? 'pretty' : 'json'),
    },
  } as const;
}

/** Parses the environment; throws one ConfigError naming every bad variable (never its value). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      return `  - ${name}: ${issue.message}`;
    });
    throw new ConfigError(
      `Invalid environment (${lines.length} problem${lines.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n` +
        'Fix these variables and start again; the README lists every variable and its default.',
    );
  }
  if (parsed.data.CONSOLE_TOKEN && parsed.data.CONSOLE_TOKEN === parsed.data.CONSOLE_READ_TOKEN) {
    throw new ConfigError(
      'Invalid environment (1 problem):\n  - CONSOLE_READ_TOKEN: must differ from CONSOLE_TOKEN (the read-only token must not grant actions)',
    );
  }
  return toConfig(parsed.data);
}
