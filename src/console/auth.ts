import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/*
 * Access to the console (pure functions over the configured tokens; no I/O):
 * - A token from the environment is exchanged, once, on the login page for a session cookie
 *   (HttpOnly, SameSite=Strict): the token never travels in a URL or sits in a page.
 * - CONSOLE_TOKEN grants `write` (pages and actions); CONSOLE_READ_TOKEN grants `read` (pages).
 * - The session cookie is signed with a key derived from the tokens, so a forged or stale cookie
 *   is refused without I/O; the session itself lives in Postgres (sessions.ts), so logging out
 *   and changing a token really end it, in every worker process.
 * - A POST needs a same-origin request (Origin, else Sec-Fetch-Site) and the session's CSRF
 *   token: an HMAC of the session id, which is no secret of the platform.
 */

export type Role = 'read' | 'write';

export interface Session {
  /** Random id; the CSRF token is derived from it. */
  sid: string;
  role: Role;
  /** Expiry, ms since the epoch. */
  exp: number;
}

const sessionSchema = z.object({
  sid: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  role: z.enum(['read', 'write']),
  exp: z.number().int().positive(),
});

export interface ConsoleAccess {
  writeToken?: string | undefined;
  readToken?: string | undefined;
  sessionTtlMs: number;
}

export interface Auth {
  /** The role a presented token grants, or null. Constant time whatever matches. */
  checkToken(presented: string): Role | null;
  issueSession(role: Role, now?: number): { cookie: string; session: Session };
  /** The session a cookie value carries, or null when forged, malformed or expired. */
  readSession(cookie: string | undefined, now?: number): Session | null;
  csrfToken(session: Session): string;
  checkCsrf(session: Session, presented: unknown): boolean;
  /** An HMAC of the tokens in force (no secret): sessions of other tokens do not match it. */
  readonly fingerprint: string;
  /** Signs and checks small values (flash messages) with the session key. */
  sign(value: string): string;
  unsign(signed: string | undefined): string | null;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Equal-length digests compared in constant time: neither the length nor the content leaks. */
function digestEquals(presented: Buffer, expected: Buffer | undefined): boolean {
  if (!expected) {
    // Same work either way.
    timingSafeEqual(presented, presented);
    return false;
  }
  return timingSafeEqual(presented, expected);
}

const b64 = (buffer: Buffer) => buffer.toString('base64url');

export function createAuth(access: ConsoleAccess): Auth {
  if (!access.writeToken && !access.readToken) {
    throw new Error('createAuth: no console token configured');
  }
  const write = access.writeToken ? sha256(access.writeToken) : undefined;
  const read = access.readToken ? sha256(access.readToken) : undefined;
  const key = createHmac('sha256', 'catalog-sync console session v1')
    .update(`${access.writeToken ?? ''}\u0000${access.readToken ?? ''}`)
    .digest();
  const mac = (purpose: string, value: string) =>
    createHmac('sha256', key).update(`${purpose}\u0000${value}`).digest();

  const sign = (value: string) => `${value}.${b64(mac('sign', value))}`;
  const unsign = (signed: string | undefined) => {
    if (!signed) return null;
    const dot = signed.lastIndexOf('.');
    if (dot <= 0) return null;
    const value = signed.slice(0, dot);
    const given = Buffer.from(signed.slice(dot + 1), 'base64url');
    const expected = mac('sign', value);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    return value;
  };

  return {
    checkToken(presented) {
      const digest = sha256(typeof presented === 'string' ? presented : '');
      const isWrite = digestEquals(digest, write);
      const isRead = digestEquals(digest, read);
      return isWrite ? 'write' : isRead ? 'read' : null;
    },
    issueSession(role, now = Date.now()) {
      const session: Session = { sid: b64(randomBytes(18)), role, exp: now + access.sessionTtlMs };
      return { cookie: sign(b64(Buffer.from(JSON.stringify(session), 'utf8'))), session };
    },
    readSession(cookie, now = Date.now()) {
      const payload = unsign(cookie);
      if (!payload) return null;
      try {
        const parsed = sessionSchema.safeParse(
          JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')),
        );
        if (!parsed.success || parsed.data.exp <= now) return null;
        return parsed.data;
      } catch {
        return null;
      }
    },
    csrfToken(session) {
      return b64(mac('csrf', session.sid));
    },
    checkCsrf(session, presented) {
      if (typeof presented !== 'string' || presented.length > 200) return false;
      const given = Buffer.from(presented, 'base64url');
      const expected = mac('csrf', session.sid);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    fingerprint: mac('fingerprint', 'tokens').toString('hex'),
    sign,
    unsign,
  };
}

/**
 * Whether a state-changing request comes from a page of this console: the browser's Origin must
 * be this host; without one, Sec-Fetch-Site must say same-origin. A request with neither (an old
 * browser, a script) is refused: the console is for browsers; scripts have the CLI and the API.
 */
export function isSameOrigin(headers: {
  origin?: string | undefined;
  host?: string | undefined;
  'sec-fetch-site'?: string | undefined;
}): boolean {
  const { origin, host } = headers;
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  if (origin !== undefined) {
    if (!host || origin === 'null') return false;
    try {
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  }
  return site === 'same-origin';
}

/** Cookie header → name/value pairs (first one wins, as browsers send the most specific first). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name in out) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

export function serializeCookie(
  name: string,
  value: string,
  options: { maxAgeSeconds?: number; secure: boolean; path: string },
): string {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${options.path}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}
