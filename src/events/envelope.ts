import type { EventEnvelope } from './types.ts';

export interface EventRow {
  id: string;
  type: string;
  projectId: string | null;
  /** The event's number in its project's sequence. */
  projectSeq: number;
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
    sequence: Number(row.projectSeq),
    data: row.payload as EventEnvelope['data'],
  };
}
