import { createHash } from 'node:crypto';
import { and, eq, gt, lte, ne, or } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { consoleSessions } from '../../db/schema.ts';
import type { Auth, Role, Session } from './auth.ts';

/*
 * Server-side sessions. The signed cookie (auth.ts) is checked first, without I/O; then its row
 * in `console_sessions` must exist, be unexpired and carry the fingerprint of the tokens in force.
 * Logging out deletes the row, so a copy of the cookie kept elsewhere is refused from then on;
 * changing a token changes the fingerprint (and the signing key), which ends every older session.
 * The row is keyed by a hash of the session id: the table never holds a usable cookie.
 */

export interface SessionStore {
  begin(role: Role): Promise<{ cookie: string; session: Session }>;
  /** The session of a cookie, or null when forged, expired, logged out or from older tokens. */
  resume(cookie: string | undefined): Promise<Session | null>;
  end(session: Session): Promise<void>;
  /** Deletes expired sessions and those of tokens no longer in force; returns how many. */
  purge(): Promise<number>;
}

const idHash = (sid: string) => createHash('sha256').update(sid, 'utf8').digest('hex');

export function createSessionStore(db: Db, auth: Auth, now: () => number = Date.now): SessionStore {
  return {
    async begin(role) {
      const issued = auth.issueSession(role, now());
      await db.insert(consoleSessions).values({
        idHash: idHash(issued.session.sid),
        role,
        tokenFingerprint: auth.fingerprint,
        expiresAt: new Date(issued.session.exp),
      });
      return issued;
    },

    async resume(cookie) {
      const session = auth.readSession(cookie, now());
      if (!session) return null;
      const [row] = await db
        .select({ role: consoleSessions.role })
        .from(consoleSessions)
        .where(
          and(
            eq(consoleSessions.idHash, idHash(session.sid)),
            eq(consoleSessions.tokenFingerprint, auth.fingerprint),
            gt(consoleSessions.expiresAt, new Date(now())),
          ),
        );
      return row && row.role === session.role ? session : null;
    },

    async end(session) {
      await db.delete(consoleSessions).where(eq(consoleSessions.idHash, idHash(session.sid)));
    },

    async purge() {
      const gone = await db
        .delete(consoleSessions)
        .where(
          or(
            lte(consoleSessions.expiresAt, new Date(now())),
            ne(consoleSessions.tokenFingerprint, auth.fingerprint),
          ),
        )
        .returning({ idHash: consoleSessions.idHash });
      return gone.length;
    },
  };
}
