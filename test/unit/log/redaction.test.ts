import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubSecrets } from '../../../src/log/logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string;
const pemBody = pem.split('\n')[1]!;
const token =
  'eyJhbGciOiJFUzI1NiIsImtpZCI6IjJYOVI0SFhGMzQiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJhIn0.c2lnbmF0dXJlc2lnbmF0dXJl';

describe('log redaction', () => {
  it('keeps a PEM key and a bearer token out of every log line', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        credentials: { keyId: '2X9R4HXF34', privateKey: pem },
        request: { headers: { authorization: `Bearer ${token}` } },
        token,
        encryptionKey: 'c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=',
      },
      'saving credentials',
    );
    logger.warn({ detail: `upstream said: Authorization: Bearer ${token} for ${pem}` }, 'free text');
    logger.error({ err: new Error(`failed with key ${pem}`) }, 'an error');
    const output = lines.join('');
    expect(lines).toHaveLength(3);
    expect(output).toContain('2X9R4HXF34');
    expect(output).not.toContain(pemBody);
    expect(output).not.toContain('BEGIN PRIVATE KEY');
    expect(output).not.toContain(token);
    expect(output).not.toContain(token.split('.')[0]!);
    expect(output).not.toContain('c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=');
  });

  it('scrubs PEM blocks, bearer tokens and JWT-shaped strings from free text', () => {
    const text = scrubSecrets(`a ${pem} b Bearer ${token} c ${token}`);
    expect(text).not.toContain(pemBody);
    expect(text).not.toContain(token);
    expect(text).toContain('[REDACTED PEM]');
  });
});

describe('URL passwords in free text', () => {
  it('are replaced, the user and host kept', () => {
    expect(
      scrubSecrets('could not connect to postgres://catalog:s3cr3t@db.internal:5432/app (timeout)'),
    ).toBe('could not connect to postgres://catalog:[REDACTED]@db.internal:5432/app (timeout)');
    expect(scrubSecrets('redis at rediss://:hunter2@cache:6380/0 refused')).toBe(
      'redis at rediss://:[REDACTED]@cache:6380/0 refused',
    );
    expect(scrubSecrets('a URL without one: postgres://catalog@db/app, https://example.com:8443/x')).toBe(
      'a URL without one: postgres://catalog@db/app, https://example.com:8443/x',
    );
  });

  it('are scrubbed from every log line', () => {
    const { lines, logger } = capture();
    logger.error(
      { reason: 'The database failed postgres://u:p4ssw0rd@h/db' },
      'failed postgres://u:p4ssw0rd@h/db',
    );
    expect(lines.join('')).not.toContain('p4ssw0rd');
    expect(lines.join('')).toContain('postgres://u:[REDACTED]@h/db');
  });
});
