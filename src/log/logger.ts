import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, pino } from 'pino';

import { scrubSecrets } from './scrub.ts';

export type { Logger } from 'pino';
// Re-exported: most callers know the logger module; errors.ts imports scrub.ts alone, so the
// queue contract and the public API do not load pino.
export { scrubSecrets };

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
