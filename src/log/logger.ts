import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Field paths whose values are always secrets. Pino replaces them before serialising;
 * `scrubSecrets` below is the second line of defence for secrets inside free text
 * (an error message that quotes a header, a PEM pasted into a detail).
 */
export const REDACTED_PATHS = [
  'privateKey',
  '*.privateKey',
  '*.*.privateKey',
  'pem',
  '*.pem',
  'p8',
  '*.p8',
  'token',
  '*.token',
  '*.*.token',
  'accessToken',
  '*.accessToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.*.headers.authorization',
  'req.headers.authorization',
  'encryptionKey',
  '*.encryptionKey',
  'CREDENTIALS_ENCRYPTION_KEY',
  '*.CREDENTIALS_ENCRYPTION_KEY',
  'CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS',
  '*.CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS',
];

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
// A compact JWS/JWE: base64url header starting with `{"` (eyJ) and two or more dots.
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){2,4}/g;

// A URL's password (`postgres://user:password@host`, `redis://:password@host`): a connection
// string quoted by a driver or pasted into a message. The user stays; the password goes.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@]+@/gi;

/** Replaces PEM blocks, bearer tokens, JWT-shaped strings and URL passwords in free text. */
export function scrubSecrets(text: string): string {
  return text
    .replace(URL_PASSWORD, '$1[REDACTED]@')
    .replace(PEM_BLOCK, '[REDACTED PEM]')
    .replace(BEARER, '$1[REDACTED]')
    .replace(JWT_LIKE, '[REDACTED JWT]');
}

export interface LoggerOptions {
  level?: string;
  format?: 'json' | 'pretty';
  /** A destination stream (tests); defaults to `fd`. */
  destination?: DestinationStream;
  /** File descriptor to write to: 1 (stdout, the worker's default) or 2 (stderr, for the CLI). */
  fd?: 1 | 2;
  /**
   * Pretty lines are formatted in this thread, by a pino-pretty loaded with the first line, instead
   * of in a transport's worker thread. For a CLI command: most log nothing, and starting the thread
   * costs about 15 MiB and 40 ms. A long-running process keeps the thread (formatting off its loop).
   */
  prettyInline?: boolean;
}

const PRETTY = { colorize: true, translateTime: 'SYS:HH:MM:ss.l' };

const require = createRequire(import.meta.url);

function prettyOnFirstLine(fd: 1 | 2): DestinationStream {
  const out = pino.destination({ fd });
  let format: ((line: string) => string) | undefined;
  return {
    write(line: string) {
      format ??= (require('pino-pretty') as typeof import('pino-pretty')).prettyFactory(PRETTY);
      out.write(format(line));
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = {
    level: options.level ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    hooks: {
      // Every line passes through here after serialisation, so nothing escapes the scrub.
      streamWrite: scrubSecrets,
    },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  if (options.format === 'pretty' && !options.destination) {
    if (options.prettyInline) return pino(base, prettyOnFirstLine(options.fd ?? 1));
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { ...PRETTY, destination: options.fd ?? 1 } },
    });
  }
  return pino(base, options.destination ?? pino.destination({ fd: options.fd ?? 1 }));
}

let rootLogger: Logger | undefined;

/** The process-wide logger; configured once by the entry point, silent-by-default in tests. */
export function getLogger(): Logger {
  rootLogger ??= createLogger({
    level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    format: process.stdout.isTTY && process.env.NODE_ENV !== 'production' ? 'pretty' : 'json',
  });
  return rootLogger;
}

export function setLogger(logger: Logger): void {
  rootLogger = logger;
}
