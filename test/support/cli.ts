import { execFile } from 'node:child_process';
import path from 'node:path';

const CLI = path.resolve('bin/catalog-sync.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI (bin/catalog-sync.js) in a child process; never throws on a non-zero exit.
 * The child inherits this process's environment with LOG_LEVEL=warn and LOG_FORMAT=json unless
 * `env` says otherwise; a variable set to undefined in `env` is removed.
 */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  // The child is the product, not a test: VITEST would make its default logger silent.
  delete childEnv['VITEST'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: childEnv, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The command's JSON result (log lines, one JSON object each, may share stdout). */
export function jsonOf(result: CliResult): Record<string, unknown> {
  const text = result.stdout
    .split('\n')
    .filter((line) => !/^\{"level":/.test(line))
    .join('\n');
  return JSON.parse(text);
}
