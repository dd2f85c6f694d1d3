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
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** Unset: the CLI uses an embedded Postgres (PGlite) under DATA_DIR. */
    DATABASE_URL: z.preprocess(emptyAsUndefined, url(['postgres:', 'postgresql:'], 'postgres://').optional()),
    DATA_DIR: z.string().min(1).default('.data'),
    /** Postgres connections per worker process; unset: sized from WORKER_CONCURRENCY (jobs/pool.ts). */
    DATABASE_POOL_MAX: optionalIntFrom(2, 1000),
    REDIS_URL: url(['redis:', 'rediss:'], 'redis:// or rediss://').default('redis://127.0.0.1:6379'),
    /** BullMQ key prefix; use a hash tag such as `{catalog-sync}` on Redis Cluster. */
    REDIS_PREFIX: z.string().min(1).default('catalog-sync'),
    /**
     * Redis Cluster seed nodes, comma-separated `host:port`; set, it replaces REDIS_URL's host (the
     * URL's password, user and TLS still apply) and REDIS_PREFIX must hold a `{hash tag}`.
     */
    REDIS_CLUSTER_NODES: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .refine((value) => value.split(',').every((node) => /^\s*[^\s:]+:\d{1,5}\s*$/.test(node)), {
          message: 'must be a comma-separated list of host:port',
        })
        .optional(),
    ),
    APP_STORE_CONNECT_BASE_URL: url(['https:', 'http:'], 'http(s)://').default(APPLE_BASE_URL),
    /** Current key for the `.p8` at rest (JWE dir + A256GCM). */
    CREDENTIALS_ENCRYPTION_KEY: z.preprocess(emptyAsUndefined, encryptionKey.optional()),
    /** Older keys, comma-separated, still accepted for decryption while rotating. */
    CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .refine((value) => value.split(',').every((k) => decodeEncryptionKey(k) !== undefined), {
          message: 'must be a comma-separated list of 32-byte base64 or hex keys',
        })
        .optional(),
    ),
    WORKER_CONCURRENCY: intFrom(1, 1000, 10),
    /** Worker processes under one supervisor (`worker --processes N`); unset: one per available core. */
    WORKER_PROCESSES: optionalIntFrom(1, 256),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `pretty` for a terminal, `json` for production; default: pretty on a TTY outside production. */
    LOG_FORMAT: z.preprocess(emptyAsUndefined, z.enum(['json', 'pretty']).optional()),
    APP_STORE_CONNECT_CONNECT_TIMEOUT_MS: intFrom(100, 120_000, 5_000),
    APP_STORE_CONNECT_RESPONSE_TIMEOUT_MS: intFrom(100, 300_000, 30_000),
    APP_STORE_CONNECT_MAX_RETRIES: intFrom(0, 10, 4),
    /** Upper bound on any single wait, including a server's Retry-After. */
    APP_STORE_CONNECT_RETRY_CAP_MS: intFrom(0, 3_600_000, 60_000),
    APP_STORE_CONNECT_MAX_PAGES: intFrom(1, 100_000, 1_000),
    /** Requests in flight per sync (Apple throttles bursts even with hourly budget left). */
    APP_STORE_CONNECT_CONCURRENCY: intFrom(1, 64, 8),
    /** Largest App Store Connect response body, counted after decompression (default 32 MiB). */
    APP_STORE_CONNECT_MAX_RESPONSE_BYTES: intFrom(1_024, 1_073_741_824, 33_554_432),
    /** Deepest nesting of arrays/objects accepted in one JSON document. */
    APP_STORE_CONNECT_MAX_JSON_DEPTH: intFrom(8, 10_000, 64),
    /** Apple's error `detail` is cut to this many characters wherever it is quoted. */
    APP_STORE_CONNECT_MAX_ERROR_DETAIL_CHARS: intFrom(50, 100_000, 500),
    /** Largest raw attribute JSON stored per product (default 64 KiB). */
    SYNC_MAX_PRODUCT_ATTRIBUTES_BYTES: intFrom(1_024, 16_777_216, 65_536),
    /** Any error text stored or logged (run row, job failure reason, log line) is cut to this. */
    ERROR_TEXT_MAX_CHARS: intFrom(200, 1_000_000, 2_000),
    /** Shortest interval between two runs of a schedule (`--every` and cron alike). */
    SCHEDULE_MIN_INTERVAL_SECONDS: intFrom(1, 86_400, 300),
    SYNC_ATTEMPTS: intFrom(1, 50, 5),
    /** The longest a SIGTERM takes: active jobs drain for it less up to 3 s kept for closing connections. */
    SHUTDOWN_TIMEOUT_MS: intFrom(0, 600_000, 30_000),
    /**
     * A job's lock without renewal; a killed worker's job is picked up again after about this long,
     * and a job whose outcome Redis cannot record is let go (its slot freed) after this long.
     */
    WORKER_LOCK_DURATION_MS: intFrom(1_000, 600_000, 15_000),
    /** How often a worker looks for stalled jobs (their worker died) and puts them back. */
    WORKER_STALLED_INTERVAL_MS: intFrom(500, 600_000, 5_000),
    /** How often a worker re-checks that Redis's schedulers mirror Postgres; 0 = only at start-up. */
    SCHEDULE_RECONCILE_INTERVAL_MS: intFrom(0, 86_400_000, 300_000),
    // --- issue 11 (outages)
    /** How often a running sync refreshes its run's heartbeat. */
    SYNC_HEARTBEAT_INTERVAL_MS: intFrom(100, 600_000, 10_000),
    /** A `running` run whose heartbeat is older than this is ended as `abandoned` (keep it well above the interval). */
    SYNC_RUN_STALE_AFTER_MS: intFrom(1_000, 86_400_000, 90_000),
    /** How often a worker sweeps for abandoned runs (also at start-up); 0 = only at start-up. */
    SYNC_RUN_SWEEP_INTERVAL_MS: intFrom(0, 86_400_000, 30_000),
    /** First wait of a job that found the database unreachable (doubles per deferral, no attempt used). */
    DATABASE_RETRY_DELAY_MS: intFrom(100, 600_000, 5_000),
    /** Longest wait between two tries while the database stays unreachable. */
    DATABASE_RETRY_MAX_DELAY_MS: intFrom(100, 3_600_000, 60_000),
    // --- end issue 11
    /** Health and metrics port for the worker; 0 turns the server off. */
    METRICS_PORT: intFrom(0, 65_535, 9464),
    /** Loopback by default: set 0.0.0.0 (and METRICS_TOKEN) to expose /metrics and /readyz. */
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /** When set, /metrics and /readyz want `Authorization: Bearer <token>` (/livez stays open). */
    METRICS_TOKEN: z.preprocess(
      emptyAsUndefined,
      z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    ),
    /** Label App Store series with each customer's Key ID (off: one series for all keys). */
    METRICS_KEY_ID_LABELS: flag(false),
    /** Put every event on the `catalog-sync-events` BullMQ queue too (opt-in). */
    EVENTS_QUEUE: flag(false),
    /** How often an idle dispatcher looks at the outbox (it is also woken by NOTIFY on Postgres). */
    EVENTS_DISPATCH_INTERVAL_MS: intFrom(50, 60_000, 1_000),
    /** Webhook requests in flight per worker process. */
    EVENTS_DISPATCH_CONCURRENCY: intFrom(1, 64, 4),
    /** Events, deliveries and their log are deleted after this many days. */
    EVENTS_RETENTION_DAYS: intFrom(1, 3_650, 30),
    /** Plain http:// webhooks to loopback (127.0.0.0/8, ::1, localhost) — development and tests only. */
    WEBHOOKS_ALLOW_HTTP_LOOPBACK: flag(false),
    /** Webhooks to private, link-local, loopback and other non-public addresses (off: SSRF guard). */
    WEBHOOKS_ALLOW_PRIVATE_ADDRESSES: flag(false),
    WEBHOOKS_TIMEOUT_MS: intFrom(100, 60_000, 10_000),
    /** Waits between attempts, comma-separated milliseconds; one attempt more than entries. */
    WEBHOOKS_RETRY_SCHEDULE_MS: retrySchedule,
    /** An endpoint failing without a success for this long is disabled (default 5 days). */
    WEBHOOKS_DISABLE_AFTER_MS: intFrom(0, 90 * 86_400_000, 5 * 86_400_000),
    /** After a rotation, requests carry signatures with the old secret too for this long. */
    WEBHOOKS_ROTATION_GRACE_MS: intFrom(0, 30 * 86_400_000, 86_400_000),
    /** Operator console: off unless one of the tokens is set. Full access (pages and actions). */
    CONSOLE_TOKEN: z.preprocess(emptyAsUndefined, consoleToken.optional()),
    /** Read-only access to the console (pages, no actions). */
    CONSOLE_READ_TOKEN: z.preprocess(emptyAsUndefined, consoleToken.optional()),
    /** How long a console login lasts. */
    CONSOLE_SESSION_HOURS: intFrom(1, 720, 12),
    /** Issue 12: share (0–1) of each key's hourly budget that detail refreshes may spend. */
    DETAILS_BUDGET_SHARE: z.coerce
      .number({ message: 'must be a number between 0 and 1' })
      .min(0, { message: 'must be at least 0' })
      .max(1, { message: 'must be at most 1' })
      .default(0.5),
    /** Issue 12: how old a product's details may get before they are read again (`24h`, `90m`, `2d` or seconds). */
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
      .default('24h'),
    /** Issue 12: Apple's requests per key per rolling hour (the X-Rate-Limit header corrects it). */
    APP_STORE_CONNECT_HOURLY_LIMIT: intFrom(1, 1_000_000, 3_600),
    /** Issue 12: the budget's window in seconds (3600; tests and benchmarks scale it down). */
    DETAILS_BUDGET_WINDOW_SECONDS: intFrom(1, 86_400, 3_600),
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
    },
    console: {
      /** Off unless a token is set. */
      enabled: Boolean(env.CONSOLE_TOKEN || env.CONSOLE_READ_TOKEN),
      writeToken: env.CONSOLE_TOKEN,
      readToken: env.CONSOLE_READ_TOKEN,
      sessionTtlMs: env.CONSOLE_SESSION_HOURS * 3_600_000,
    },
    details: {
      budgetShare: env.DETAILS_BUDGET_SHARE,
      maxAgeMs: durationMs(env.DETAILS_MAX_AGE),
      hourlyLimit: env.APP_STORE_CONNECT_HOURLY_LIMIT,
      windowSeconds: env.DETAILS_BUDGET_WINDOW_SECONDS,
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
