import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Opaque pagination cursors. A cursor names the last id served (keyset on ids sorted by
 * compareIds), so pages stay complete and free of repeats even when the catalog changes between
 * them. It is signed with a per-simulator secret and bound to the request path: only the
 * simulator's own `next` links are accepted, as with Apple, whose cursors clients must not build.
 */

export class CursorCodec {
  private readonly secret: Buffer;

  constructor(secret: Buffer = randomBytes(32)) {
    this.secret = secret;
  }

  encode(path: string, afterId: string): string {
    const payload = Buffer.from(JSON.stringify({ a: afterId })).toString('base64url');
    return `${payload}.${this.sign(path, payload)}`;
  }

  /** The id to continue after, or undefined when the cursor is not one of ours for this path. */
  decode(path: string, cursor: string): string | undefined {
    const [payload, signature, extra] = cursor.split('.');
    if (!payload || !signature || extra !== undefined) return undefined;
    const expected = Buffer.from(this.sign(path, payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { a?: unknown };
      return typeof decoded.a === 'string' ? decoded.a : undefined;
    } catch {
      return undefined;
    }
  }

  private sign(path: string, payload: string): string {
    return createHmac('sha256', this.secret)
      .update(path)
      .update('\n')
      .update(payload)
      .digest('base64url')
      .slice(0, 22);
  }
}
