import { z } from 'zod';

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

const intFrom = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ message: 'must be a whole number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` })
    .default(fallback);

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

const emptyAsUndefined = (value: unknown) => (value === '' ? undefined : value);

/** A console token must be long enough not to be guessed (`openssl rand -base64 24` makes one). */
const consoleToken = z
  .string()
  .min(16, { message: 'must be at least 16 characters (make one with `openssl rand -base64 24`)' })
  .max(500, { message: 'must be at most 500 characters' });

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** Unset: the CLI uses an embedded Postgres (PGlite) under DATA_DIR. */
  DATABASE_URL: z.preprocess(emptyAsUndefined, url(['postgres:', 'postgresql:'], 'postgres://').optional()),
  DATA_DIR: z.string().min(1).default('.data'),
  REDIS_URL: url(['redis:', 'rediss:'], 'redis:// or rediss://').default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix; use a hash tag such as `{catalog-sync}` on Redis Cluster. */
  REDIS_PREFIX: z.string().min(1).default('catalog-sync'),
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
  SYNC_ATTEMPTS: intFrom(1, 50, 5),
  SHUTDOWN_TIMEOUT_MS: intFrom(0, 600_000, 30_000),
  /** A job's lock without renewal; a killed worker's job is picked up again after about this long. */
  WORKER_LOCK_DURATION_MS: intFrom(1_000, 600_000, 30_000),
  /** How often a worker looks for stalled jobs (their worker died) and puts them back. */
  WORKER_STALLED_INTERVAL_MS: intFrom(500, 600_000, 30_000),
  /** How often a worker re-checks that Redis's schedulers mirror Postgres; 0 = only at start-up. */
  SCHEDULE_RECONCILE_INTERVAL_MS: intFrom(0, 86_400_000, 300_000),
  /** Health and metrics port for the worker; 0 turns the server off. */
  METRICS_PORT: intFrom(0, 65_535, 9464),
  METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  /** Operator console (issue 14): off unless one of the tokens is set. Full access (pages and actions). */
  CONSOLE_TOKEN: z.preprocess(emptyAsUndefined, consoleToken.optional()),
  /** Read-only access to the console (pages, no actions). */
  CONSOLE_READ_TOKEN: z.preprocess(emptyAsUndefined, consoleToken.optional()),
  /** How long a console login lasts. */
  CONSOLE_SESSION_HOURS: intFrom(1, 720, 12),
});

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
    redis: { url: env.REDIS_URL, prefix: env.REDIS_PREFIX },
    appStore: {
      baseUrl: env.APP_STORE_CONNECT_BASE_URL.replace(/\/+$/, ''),
      connectTimeoutMs: env.APP_STORE_CONNECT_CONNECT_TIMEOUT_MS,
      responseTimeoutMs: env.APP_STORE_CONNECT_RESPONSE_TIMEOUT_MS,
      maxRetries: env.APP_STORE_CONNECT_MAX_RETRIES,
      retryCapMs: env.APP_STORE_CONNECT_RETRY_CAP_MS,
      maxPages: env.APP_STORE_CONNECT_MAX_PAGES,
      concurrency: env.APP_STORE_CONNECT_CONCURRENCY,
    },
    credentials: {
      encryptionKey: env.CREDENTIALS_ENCRYPTION_KEY,
      previousKeys: env.CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS?.split(',').map((k) => k.trim()) ?? [],
    },
    worker: {
      concurrency: env.WORKER_CONCURRENCY,
      syncAttempts: env.SYNC_ATTEMPTS,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      lockDurationMs: env.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
      scheduleReconcileIntervalMs: env.SCHEDULE_RECONCILE_INTERVAL_MS,
    },
    metrics: { port: env.METRICS_PORT, host: env.METRICS_HOST },
    console: {
      /** Off unless a token is set. */
      enabled: Boolean(env.CONSOLE_TOKEN || env.CONSOLE_READ_TOKEN),
      writeToken: env.CONSOLE_TOKEN,
      readToken: env.CONSOLE_READ_TOKEN,
      sessionTtlMs: env.CONSOLE_SESSION_HOURS * 3_600_000,
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
