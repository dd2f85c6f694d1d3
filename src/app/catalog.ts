import { InvalidInputError } from '../errors.ts';
import { parseProjectId } from '../projects/id.ts';
import {
  type ChangeRow,
  listChanges as listStoredChanges,
  listProducts as listStoredProducts,
  type ProductRow,
  type RuleRow,
  rulesInForce,
} from '../sync/queries.ts';
import { parseInstant } from '../time/duration.ts';
import type { AppContext, DataContext } from './context.ts';

export type { ChangeRow, ProductRow, RuleRow };

/** Stored products, present ones first; removed ones too unless `includeRemoved` is false. */
export async function listProducts(
  ctx: AppContext,
  input: { projectId: string; includeRemoved?: boolean },
): Promise<{ projectId: string; products: ProductRow[] }> {
  const projectId = parseProjectId(input?.projectId);
  const products = await listStoredProducts(ctx, projectId, { includeRemoved: input.includeRemoved ?? true });
  return { projectId, products };
}

/**
 * The change log, oldest first. `since`: a Date, an ISO date-time, or a duration back from now
 * (`24h`, `7d`, `2w`) — the one grammar of src/time/duration.ts. `runId`: one sync's rows only.
 * With `limit`, `nextCursor` is set when more rows may follow: pass it back as `cursor`.
 */
export async function listChanges(
  ctx: DataContext,
  input: {
    projectId: string;
    since?: Date | string | undefined;
    limit?: number | undefined;
    runId?: string | undefined;
    cursor?: string | undefined;
  },
): Promise<{ projectId: string; since: Date | null; changes: ChangeRow[]; nextCursor: string | null }> {
  const projectId = parseProjectId(input?.projectId);
  const since =
    input.since === undefined
      ? undefined
      : input.since instanceof Date
        ? parseInstant(input.since.toISOString(), 'since', { allowDuration: false })
        : parseInstant(input.since, 'since');
  if (
    input.limit !== undefined &&
    (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > 10_000)
  ) {
    throw new InvalidInputError('limit', 'must be a whole number from 1 to 10000.');
  }
  // A run id, or an event's changesCursor (`run:<id>`): the one parser of both.
  const runId = input.runId === undefined ? undefined : parseRunCursor(input.runId);
  const after = input.cursor === undefined ? undefined : decodeChangeCursor(input.cursor);
  const changes = await listStoredChanges(ctx, projectId, {
    since,
    limit: input.limit,
    runId,
    after,
  });
  const last = changes.at(-1);
  const nextCursor =
    input.limit !== undefined && last && changes.length === input.limit
      ? Buffer.from(`c${last.id}`).toString('base64url')
      : null;
  return { projectId, since: since ?? null, changes, nextCursor };
}

function decodeChangeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^c[0-9]{1,15}$/.test(text)) {
    throw new InvalidInputError(
      'cursor',
      'is not a cursor this API gave; pass nextCursor as it came, or leave it out.',
    );
  }
  return Number(text.slice(1));
}

/** The revenue-attribution rules in force (production then sandbox; paid-to-paid then offer-to-paid). */
export async function listRules(
  ctx: AppContext,
  input: { projectId: string },
): Promise<{ projectId: string; rules: RuleRow[] }> {
  const projectId = parseProjectId(input?.projectId);
  return { projectId, rules: await rulesInForce(ctx, projectId) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `run:<uuid>` (an event's `changesCursor`) or the run id itself. */
export function parseRunCursor(value: string): string {
  const text = typeof value === 'string' ? value.trim().replace(/^run:/, '') : '';
  if (!UUID.test(text)) {
    throw new InvalidInputError(
      'runId',
      'must be a sync run id or an event’s changesCursor (run:<run id>); every catalog.changed carries its cursor, and `catalog-sync status <project> --json` lists the last runs’ ids.',
    );
  }
  return text.toLowerCase();
}
