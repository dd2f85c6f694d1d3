import type { EventEnvelope } from './types.ts';

export interface EventRow {
  id: string;
  type: string;
  projectId: string | null;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/** The body of a webhook and the data of an events-queue job: the same, byte for byte. */
export function envelopeOf(row: EventRow): EventEnvelope {
  return {
    id: row.id,
    type: row.type,
    timestamp: new Date(row.createdAt).toISOString(),
    projectId: row.projectId,
    data: row.payload as EventEnvelope['data'],
  };
}
