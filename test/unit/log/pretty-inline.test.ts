import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';

/*
 * The CLI's pretty logs are formatted in its own thread (no transport worker to start for a command
 * that logs nothing): same lines as the transport's, still redacted and scrubbed.
 */

const run = promisify(execFile);
const LOGGER = path.resolve('src/log/logger.ts');

const script = `
import { isMainThread } from 'node:worker_threads';
import { createLogger } from ${JSON.stringify(LOGGER)};
const logger = createLogger({ level: 'info', format: 'pretty', fd: 2, prettyInline: true });
logger.info({ total: 3, credentials: { privateKey: 'secret' } }, 'schedules reconciled with Bearer abc.def');
process.stdout.write(JSON.stringify({ isMainThread, transportPorts: process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length }));
`;

describe('pretty logs in the CLI', () => {
  it('are formatted in this thread, as the transport would, with secrets out', async () => {
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    expect(JSON.parse(stdout)).toEqual({ isMainThread: true, transportPorts: 0 });
    const plain = stripVTControlCharacters(stderr);
    expect(plain).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): schedules reconciled with Bearer \[REDACTED\]\n/,
    );
    expect(plain).toContain('    total: 3\n');
    expect(plain).toContain('"privateKey": "[REDACTED]"');
    expect(plain).not.toContain('secret');
  });
});
