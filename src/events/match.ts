/* Which endpoints get an event (pure; unit-tested). */

export interface EndpointFilter {
  id: string;
  projectId: string | null;
  eventTypes: readonly string[];
}

export interface EventHead {
  type: string;
  projectId: string | null;
  payload: Record<string, unknown>;
}

export function endpointMatches(endpoint: EndpointFilter, event: EventHead): boolean {
  if (endpoint.projectId !== null && endpoint.projectId !== event.projectId) return false;
  if (endpoint.eventTypes.length > 0 && !endpoint.eventTypes.includes(event.type)) return false;
  // An endpoint is not told about its own disabling (it would not be delivered anyway).
  if (event.type === 'webhook.endpoint_disabled' && event.payload['endpointId'] === endpoint.id) return false;
  return true;
}

export interface FanOutEvent extends EventHead {
  id: string;
  seq: number;
  createdAt: Date;
}

export interface FanOutEndpoint extends EndpointFilter {
  createdAt: Date;
}

/**
 * The delivery rows for some events: one per (event, matching endpoint). `newOnly` (the
 * dispatcher): an endpoint gets only the events written after it was registered; a redelivery
 * reaches older ones.
 */
export function deliveryRows(
  events: readonly FanOutEvent[],
  endpoints: readonly FanOutEndpoint[],
  options: { newOnly: boolean },
): { eventId: string; eventSeq: number; endpointId: string; projectId: string | null }[] {
  return events.flatMap((event) =>
    endpoints
      .filter((endpoint) => !options.newOnly || endpoint.createdAt.getTime() <= event.createdAt.getTime())
      .filter((endpoint) => endpointMatches(endpoint, event))
      .map((endpoint) => ({
        eventId: event.id,
        eventSeq: event.seq,
        endpointId: endpoint.id,
        projectId: event.projectId,
      })),
  );
}
