export { type RouteSpec, route, type Scope } from './define.ts';
export { API_VERSION, openApiDocument } from './openapi.ts';
export { type ApiOptions, apiRouter } from './router.ts';
export { routes } from './routes.ts';
