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
