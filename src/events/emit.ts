import type { Db } from '../../db/client.ts';
import { events } from '../../db/schema.ts';
import { newEventId } from './ids.ts';
import { type CatalogHealthChangedPayload, type NewEvent, payloadSchemas } from './types.ts';

/*
 * The outbox's only writer. `emit` takes the caller's transaction: the event commits with the
 * change it reports, or not at all. The payload is checked against its schema here, so a
 * malformed event fails the transaction in development instead of reaching a platform.
 */

export async function emit(tx: Db, event: NewEvent): Promise<string> {
  const payload = payloadSchemas[event.type].parse(event.payload) as Record<string, unknown>;
  const id = newEventId();
  await tx.insert(events).values({ id, type: event.type, projectId: event.projectId, payload });
  return id;
}

/**
 * Reserved for catalog health (another issue builds it): call inside the transaction that
 * records the new health, only when the issues differ from those last reported.
 */
export function emitCatalogHealthChanged(
  tx: Db,
  projectId: string,
  issues: CatalogHealthChangedPayload['issues'],
): Promise<string> {
  return emit(tx, { type: 'catalog.health_changed', projectId, payload: { version: 1, issues } });
}
