import { DETAIL_ROUTES } from './detail-endpoints.ts';
import { matchIn, ROUTES, type Route } from './endpoints.ts';

/** Every endpoint the simulator serves: the structure (endpoints.ts) and the details (detail-endpoints.ts). */
export const ALL_ROUTES: readonly Route[] = [...ROUTES, ...DETAIL_ROUTES];

export function matchRoute(pathname: string): { route: Route; id: string | undefined } | undefined {
  return matchIn(ALL_ROUTES, pathname);
}
