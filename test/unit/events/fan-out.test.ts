import { describe, expect, it } from 'vitest';
import { deliveryRows } from '../../../src/events/match.ts';

/* One fan-out for the dispatcher (new events) and redelivery (any event). */

const at = (iso: string) => new Date(iso);
const event = (
  id: string,
  seq: number,
  projectId: string | null,
  createdAt: string,
  type = 'catalog.changed',
) => ({
  id,
  seq,
  type,
  projectId,
  payload: {},
  createdAt: at(createdAt),
});
const endpoint = (id: string, projectId: string | null, createdAt: string, eventTypes: string[] = []) => ({
  id,
  projectId,
  eventTypes,
  createdAt: at(createdAt),
});

describe('deliveryRows', () => {
  const events = [
    event('evt_old', 1, 'p1', '2026-01-01T00:00:00Z'),
    event('evt_new', 2, 'p1', '2026-02-01T00:00:00Z'),
    event('evt_other', 3, 'p2', '2026-02-01T00:00:00Z', 'sync.failed'),
  ];
  const endpoints = [
    endpoint('we_p1', 'p1', '2026-01-15T00:00:00Z'),
    endpoint('we_all_failures', null, '2025-12-01T00:00:00Z', ['sync.failed']),
  ];

  it('gives each matching endpoint one row per event, filtered by project and type', () => {
    expect(deliveryRows(events, endpoints, { newOnly: false })).toEqual([
      { eventId: 'evt_old', eventSeq: 1, endpointId: 'we_p1', projectId: 'p1' },
      { eventId: 'evt_new', eventSeq: 2, endpointId: 'we_p1', projectId: 'p1' },
      { eventId: 'evt_other', eventSeq: 3, endpointId: 'we_all_failures', projectId: 'p2' },
    ]);
  });

  it('gives an endpoint only what was written after it registered, unless redelivering', () => {
    const rows = deliveryRows(events, endpoints, { newOnly: true });
    expect(rows.map((row) => row.eventId)).toEqual(['evt_new', 'evt_other']);
  });
});
