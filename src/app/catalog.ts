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
import type { AppContext } from './context.ts';

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
 * (`24h`, `7d`, `2w`) — the one grammar of src/time/duration.ts.
 */
export async function listChanges(
  ctx: AppContext,
  input: { projectId: string; since?: Date | string | undefined; limit?: number | undefined },
): Promise<{ projectId: string; since: Date | null; changes: ChangeRow[] }> {
  const projectId = parseProjectId(input?.projectId);
  const since =
    input.since === undefined
      ? undefined
      : input.since instanceof Date
        ? parseInstant(input.since.toISOString(), 'since', { allowDuration: false })
        : parseInstant(input.since, 'since');
  const changes = await listStoredChanges(ctx, projectId, { since, limit: input.limit });
  return { projectId, since: since ?? null, changes };
}

/** The revenue-attribution rules in force (production then sandbox; paid-to-paid then offer-to-paid). */
export async function listRules(
  ctx: AppContext,
  input: { projectId: string },
): Promise<{ projectId: string; rules: RuleRow[] }> {
  const projectId = parseProjectId(input?.projectId);
  return { projectId, rules: await rulesInForce(ctx, projectId) };
}
