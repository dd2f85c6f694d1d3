import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import { apiIdempotencyKeys } from '../../db/schema.ts';
import type { ServiceContext } from '../context.ts';
import { AppError, InvalidInputError } from '../errors.ts';
import { decryptSecret, encryptSecret } from '../secrets/crypto.ts';

/*
 * Idempotency keys of the HTTP API's writes. The first request with a key claims it (one insert:
 * of concurrent duplicates exactly one wins); the others wait for its answer and return it. The
 * answer is sealed (it may hold a secret shown once). A failed first request releases the key, so
 * the caller may retry with it once the cause is fixed. Keys live 24 hours.
 */

export const IDEMPOTENCY_KEY_SHAPE = /^[\x21-\x7e]{1,200}$/;
const TTL_MS = 24 * 3_600_000;
const WAIT_MS = 30_000;
/** Longer than any route may keep a request (API_VERIFY_TIMEOUT_MS is at most 10 minutes). */
const ABANDONED_AFTER_MS = 11 * 60_000;

export interface StoredAnswer {
  status: number;
  body: unknown;
}

export type Claim =
  | { kind: 'claimed'; complete(answer: StoredAnswer): Promise<void>; release(): Promise<void> }
  | { kind: 'replay'; answer: StoredAnswer };

export function parseIdempotencyKey(value: unknown): string {
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY_SHAPE.test(value)) {
    throw new InvalidInputError(
      'Idempotency-Key',
      'must be 1–200 printable characters without spaces, such as a UUID made for this one write.',
    );
  }
  return value;
}

/** What identifies a request: method, path and body (key order does not matter). */
export function requestHash(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n${canonicalJson(body ?? null)}`)
    .digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function claimIdempotencyKey(
  ctx: ServiceContext,
  input: { tokenId: string; key: string; method: string; path: string; hash: string },
  deadline = Date.now() + WAIT_MS,
): Promise<Claim> {
  const { tokenId, key } = input;
  const where = and(eq(apiIdempotencyKeys.tokenId, tokenId), eq(apiIdempotencyKeys.key, key));
  // Expired keys are forgotten (this one included, so it may start afresh): the table holds at
  // most a day of writes, pruned by the writes themselves through the index on created_at.
  await ctx.db
    .delete(apiIdempotencyKeys)
    .where(lt(apiIdempotencyKeys.createdAt, new Date(Date.now() - TTL_MS)));
  const [inserted] = await ctx.db
    .insert(apiIdempotencyKeys)
    .values({ tokenId, key, method: input.method, path: input.path, requestHash: input.hash })
    .onConflictDoNothing()
    .returning({ key: apiIdempotencyKeys.key });
  if (inserted) {
    return {
      kind: 'claimed',
      async complete(answer) {
        const sealed = await encryptSecret(ctx.config, JSON.stringify(answer.body ?? null));
        await ctx.db
          .update(apiIdempotencyKeys)
          .set({ responseStatus: answer.status, responseSealed: sealed.jwe, completedAt: sql`now()` })
          .where(where);
      },
      async release() {
        await ctx.db.delete(apiIdempotencyKeys).where(where);
      },
    };
  }
  for (;;) {
    const [row] = await ctx.db.select().from(apiIdempotencyKeys).where(where);
    if (!row) {
      // The first request failed and released the key: this one may claim it.
      if (Date.now() < deadline) return claimIdempotencyKey(ctx, input, deadline);
    } else {
      if (row.requestHash !== input.hash) {
        throw new AppError(
          'idempotency_mismatch',
          `Idempotency-Key ${JSON.stringify(key)} was first used for another request ` +
            `(${row.method} ${row.path} with another body); use a new key for a different write.`,
        );
      }
      if (row.responseStatus !== null && row.responseSealed !== null) {
        const body = JSON.parse(await decryptSecret(ctx.config, row.responseSealed)) as unknown;
        return { kind: 'replay', answer: { status: row.responseStatus, body } };
      }
      // A claim this old was left by a process that died mid-request: the key is free again.
      if (row.createdAt.getTime() < Date.now() - ABANDONED_AFTER_MS) {
        const freed = await ctx.db
          .delete(apiIdempotencyKeys)
          .where(
            and(
              where,
              isNull(apiIdempotencyKeys.completedAt),
              lt(apiIdempotencyKeys.createdAt, new Date(Date.now() - ABANDONED_AFTER_MS)),
            ),
          )
          .returning({ key: apiIdempotencyKeys.key });
        if (freed.length > 0) return claimIdempotencyKey(ctx, input, deadline);
      }
    }
    if (Date.now() > deadline) {
      throw new AppError(
        'idempotency_in_progress',
        `A request with Idempotency-Key ${JSON.stringify(key)} is still being answered; retry in a few seconds.`,
        { retryable: true },
      );
    }
    await sleep(50);
  }
}
