import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { type ApiTokenScope, apiTokenScopes, apiTokens } from '../../db/schema.ts';
import type { ServiceContext } from '../context.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';

/*
 * Service tokens of the HTTP API. A token is `cst_<id>_<secret>`: the recognisable prefix lets a
 * secret scanner (and a person) tell it apart; the id finds its row; the secret is 256 random
 * bits. Only the SHA-256 of the whole token is stored, and a presented token is compared with it
 * in constant time.
 */

export const TOKEN_PREFIX = 'cst_';
const TOKEN_SHAPE = /^cst_(tok_[0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const NAME_SHAPE = /^[\x21-\x7e](?:[\x20-\x7e]{0,98}[\x21-\x7e])?$/;

export interface ApiToken {
  id: string;
  name: string;
  scope: ApiTokenScope;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const iso = (date: Date | null) => (date ? date.toISOString() : null);

function view(row: typeof apiTokens.$inferSelect): ApiToken {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: iso(row.lastUsedAt),
    revokedAt: iso(row.revokedAt),
  };
}

export function parseTokenName(value: unknown): string {
  if (typeof value !== 'string' || !NAME_SHAPE.test(value.trim())) {
    throw new InvalidInputError(
      'name',
      'must be 1–100 printable characters naming who uses the token (e.g. platform-backend); it appears in the logs.',
    );
  }
  return value.trim();
}

export function parseTokenScope(value: unknown): ApiTokenScope {
  if (!apiTokenScopes.includes(value as ApiTokenScope)) {
    throw new InvalidInputError(
      'scope',
      'must be read (GET routes only) or write (every route, writes included).',
    );
  }
  return value as ApiTokenScope;
}

/** Creates a token; the result is the only place its value ever appears. */
export async function createToken(
  ctx: ServiceContext,
  input: { name: string; scope: ApiTokenScope },
): Promise<{ token: string; info: ApiToken }> {
  const name = parseTokenName(input.name);
  const scope = parseTokenScope(input.scope);
  const id = `tok_${randomBytes(8).toString('hex')}`;
  const token = `${TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  const inserted = await ctx.db
    .insert(apiTokens)
    .values({ id, name, scope, tokenHash: sha256(token) })
    .onConflictDoNothing()
    .returning();
  if (!inserted[0]) {
    throw new InvalidInputError(
      'name',
      `a token named ${JSON.stringify(name)} already exists; revoke it first or choose another name.`,
    );
  }
  ctx.logger.info({ tokenId: id, tokenName: name, scope }, 'API token created');
  return { token, info: view(inserted[0]) };
}

export async function listTokens(
  ctx: ServiceContext,
  input: { includeRevoked?: boolean } = {},
): Promise<ApiToken[]> {
  const rows = await ctx.db
    .select()
    .from(apiTokens)
    .where(input.includeRevoked ? undefined : isNull(apiTokens.revokedAt))
    .orderBy(desc(apiTokens.createdAt));
  return rows.map(view);
}

/** Revokes by id or by the name of an active token; refused at once by every process (no cache). */
export async function revokeToken(ctx: ServiceContext, input: { token: string }): Promise<ApiToken> {
  const ref = typeof input.token === 'string' ? input.token.trim() : '';
  if (ref === '') throw new InvalidInputError('token', 'give the token’s id (tok_…) or its name.');
  const [row] = await ctx.db
    .update(apiTokens)
    .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, now())` })
    .where(
      /^tok_[0-9a-f]{16}$/.test(ref)
        ? eq(apiTokens.id, ref)
        : and(eq(apiTokens.name, ref), isNull(apiTokens.revokedAt)),
    )
    .returning();
  if (!row) {
    throw new NotFoundError(
      `No active token ${JSON.stringify(ref)}; list them with \`catalog-sync tokens list\`.`,
    );
  }
  ctx.logger.info({ tokenId: row.id, tokenName: row.name }, 'API token revoked');
  return view(row);
}

export type Authentication =
  | { ok: true; token: { id: string; name: string; scope: ApiTokenScope } }
  | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' };

/**
 * The token a request presents, checked against its row: read on every request, so a revoked
 * token is refused at once. `last_used_at` is written at most once a minute per token.
 */
export async function authenticateToken(ctx: ServiceContext, presented: string): Promise<Authentication> {
  const match = TOKEN_SHAPE.exec(presented);
  if (!match) return { ok: false, reason: 'malformed' };
  const [row] = await ctx.db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      scope: apiTokens.scope,
      tokenHash: apiTokens.tokenHash,
      revokedAt: apiTokens.revokedAt,
      lastUsedAt: apiTokens.lastUsedAt,
    })
    .from(apiTokens)
    .where(eq(apiTokens.id, match[1]!));
  // Hashes have equal lengths, so the comparison leaks neither content nor length.
  const expected = Buffer.from(row?.tokenHash ?? sha256(''), 'hex');
  const equal = timingSafeEqual(Buffer.from(sha256(presented), 'hex'), expected);
  if (!row || !equal) return { ok: false, reason: 'unknown' };
  if (row.revokedAt) return { ok: false, reason: 'revoked' };
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await ctx.db.update(apiTokens).set({ lastUsedAt: new Date() }).where(eq(apiTokens.id, row.id));
  }
  return { ok: true, token: { id: row.id, name: row.name, scope: row.scope } };
}
