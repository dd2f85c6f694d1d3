import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/env.ts';
import { redactForReaders } from '../../../src/console/app.ts';
import { createAuth, isSameOrigin, parseCookies, serializeCookie } from '../../../src/console/auth.ts';
import { html, query, raw } from '../../../src/console/html.ts';
import {
  fmtCounts,
  fmtDuration,
  healthVerdict,
  loginPage,
  projectsPage,
} from '../../../src/console/views.ts';

const WRITE = 'write-token-0123456789abcdef';
const READ = 'read-token-0123456789abcdef';

describe('html``', () => {
  it('escapes every interpolation unless it is Html, and joins arrays', () => {
    const evil = `"><script>alert('x')</script>&`;
    expect(html`<p title="${evil}">${evil}</p>`.value).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</p>',
    );
    expect(html`<ul>${['a<', html`<b>b</b>`]}</ul>`.value).toBe('<ul>a&lt;<b>b</b></ul>');
    expect(html`${null}${undefined}${false}${0}${raw('<br>')}`.value).toBe('0<br>');
    expect(query({ q: 'a&b', page: 2, empty: '', none: undefined })).toBe('?q=a%26b&page=2');
  });
});

describe('console auth', () => {
  const auth = createAuth({ writeToken: WRITE, readToken: READ, sessionTtlMs: 60_000 });

  it('maps tokens to roles and refuses others', () => {
    expect(auth.checkToken(WRITE)).toBe('write');
    expect(auth.checkToken(READ)).toBe('read');
    expect(auth.checkToken(`${WRITE}x`)).toBeNull();
    expect(auth.checkToken('')).toBeNull();
  });

  it('issues sessions that verify, expire and cannot be forged or carried to other tokens', () => {
    const now = 1_000_000;
    const { cookie, session } = auth.issueSession('read', now);
    expect(auth.readSession(cookie, now + 1)).toEqual(session);
    expect(auth.readSession(cookie, now + 60_001)).toBeNull();
    // Promote itself to write: the signature no longer matches.
    const [payload, sig] = cookie.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), role: 'write' }),
    ).toString('base64url');
    expect(auth.readSession(`${forged}.${sig}`, now)).toBeNull();
    expect(auth.readSession('garbage', now)).toBeNull();
    expect(auth.readSession(undefined, now)).toBeNull();
    const other = createAuth({ writeToken: 'another-token-0123456789', sessionTtlMs: 60_000 });
    expect(other.readSession(cookie, now)).toBeNull();
    // The token never appears in the cookie.
    expect(Buffer.from(payload!, 'base64url').toString()).not.toContain(READ);
  });

  it('derives a CSRF token per session', () => {
    const a = auth.issueSession('write').session;
    const b = auth.issueSession('write').session;
    expect(auth.checkCsrf(a, auth.csrfToken(a))).toBe(true);
    expect(auth.checkCsrf(a, auth.csrfToken(b))).toBe(false);
    expect(auth.checkCsrf(a, undefined)).toBe(false);
    expect(auth.checkCsrf(a, 'x'.repeat(500))).toBe(false);
  });

  it('accepts same-origin requests only', () => {
    const host = '127.0.0.1:9464';
    expect(isSameOrigin({ origin: 'http://127.0.0.1:9464', host })).toBe(true);
    expect(isSameOrigin({ origin: 'http://127.0.0.1:9464', host, 'sec-fetch-site': 'same-origin' })).toBe(
      true,
    );
    expect(isSameOrigin({ host, 'sec-fetch-site': 'same-origin' })).toBe(true);
    expect(isSameOrigin({ origin: 'http://evil.example', host })).toBe(false);
    expect(isSameOrigin({ origin: 'null', host })).toBe(false);
    expect(isSameOrigin({ origin: 'http://127.0.0.1:9464', host, 'sec-fetch-site': 'cross-site' })).toBe(
      false,
    );
    expect(isSameOrigin({ host })).toBe(false);
  });

  it('sets HttpOnly, SameSite=Strict cookies and reads them back', () => {
    const header = serializeCookie('cs_session', 'a.b=c', {
      path: '/console',
      secure: true,
      maxAgeSeconds: 5,
    });
    expect(header).toBe('cs_session=a.b%3Dc; Path=/console; HttpOnly; SameSite=Strict; Max-Age=5; Secure');
    expect(parseCookies('x=1; cs_session=a.b%3Dc; x=2')).toEqual({ x: '1', cs_session: 'a.b=c' });
  });
});

describe('console configuration', () => {
  it('is off by default, on with a token, and refuses short or identical tokens', () => {
    expect(loadConfig({}).console.enabled).toBe(false);
    expect(loadConfig({ CONSOLE_READ_TOKEN: READ }).console).toMatchObject({
      enabled: true,
      readToken: READ,
    });
    expect(() => loadConfig({ CONSOLE_TOKEN: 'short' })).toThrow(/CONSOLE_TOKEN: must be at least 16/);
    expect(() => loadConfig({ CONSOLE_TOKEN: WRITE, CONSOLE_READ_TOKEN: WRITE })).toThrow(ConfigError);
  });
});

describe('console views', () => {
  it('formats durations and counts', () => {
    expect(fmtDuration(950)).toBe('950 ms');
    expect(fmtDuration(2500)).toBe('2.5 s');
    expect(fmtCounts({ 'product.added': 2, 'product.removed': 0 })).toBe('product.added 2');
    expect(fmtCounts(null)).toBe('no changes');
  });

  it('escapes values from the database and puts no token in the login page', () => {
    const page = projectsPage(
      { role: 'write', csrf: 'csrf-value' },
      {
        query: { sort: 'project', direction: 'asc', page: 1, search: '<img src=x>' },
        page: {
          total: 1,
          failing: 1,
          needsAction: 1,
          rows: [
            {
              id: 'p<1>',
              appStoreId: '1',
              bundleId: 'com.x"y',
              appName: '<b>',
              scheduleEverySeconds: null,
              scheduleCron: null,
              credentialStatus: 'forbidden',
              credentialDetail: null,
              verifiedAt: null,
              runStatus: 'failed',
              runTrigger: 'manual',
              runStartedAt: new Date(0),
              runDurationMs: 5,
              runCounts: null,
              runErrorKind: 'x',
              runErrorMessage: '<script>',
              failing: true,
              needs: ['key_forbidden', 'sync_failed'],
            },
          ],
        },
        nextRuns: new Map(),
        pageSize: 50,
      },
    ).value;
    expect(page).not.toMatch(/<img src=x>|<script>|<b>|com\.x"y/);
    expect(page).toContain('p&lt;1&gt;');
    // One line per project: a short badge here, the fix on the project page.
    expect(page).toContain('key forbidden</span> <span class="muted">+1</span>');
    expect(page).not.toContain('Give the key the Admin or App Manager role');
    expect(loginPage({ role: null, csrf: null }, null).value).not.toContain('value=');
  });
});

describe('honest status', () => {
  it('says "healthy" only with a stored catalog and a key that still reads it', () => {
    expect(healthVerdict({ issues: 0, liveProducts: 5, credentialStatus: 'valid' }).label).toBe('healthy');
    expect(healthVerdict({ issues: 0, liveProducts: 0, credentialStatus: 'valid' }).label).toBe('unknown');
    for (const status of ['invalid', 'forbidden', 'no_apps', null]) {
      expect(healthVerdict({ issues: 0, liveProducts: 5, credentialStatus: status }).label).toBe('unknown');
      expect(healthVerdict({ issues: 2, liveProducts: 5, credentialStatus: status })).toMatchObject({
        label: '2 issues',
        tone: 'bad',
      });
    }
    expect(healthVerdict({ issues: 1, liveProducts: 5, credentialStatus: 'unverified' }).label).toBe(
      '1 issue',
    );
  });

  it('keeps stack traces and server paths from read-only sessions of Bull Board', () => {
    const job = {
      id: '1',
      failedReason:
        'ENOENT: open /srv/app/node_modules/x/index.js failed at /srv/app/jobs/worker.ts:12:5 (https://api.example.com/v1/apps)',
      stacktrace: ['Error: x\n    at run (/srv/app/jobs/worker.ts:12:5)'],
      data: { projectId: 'acme' },
    };
    const seen = redactForReaders({ queues: [{ jobs: [job] }] }) as { queues: { jobs: (typeof job)[] }[] };
    const out = seen.queues[0]!.jobs[0]!;
    expect(out.stacktrace).toEqual([]);
    expect(out.failedReason).toBe('ENOENT: open [path] failed at [path] (https://api.example.com/v1/apps)');
    expect(out.data).toEqual({ projectId: 'acme' });
  });
});
