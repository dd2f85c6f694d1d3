/** The App Store Connect client: the worker's only window on Apple. */
export { closeSharedAgents, sharedAgentLimits } from './agents.ts';
export {
  type AppStoreClient,
  type AppStoreClientOptions,
  clientDefaults,
  createAppStoreClient,
  endpointTemplate,
  type PaginatedResult,
  type ResponseEvent,
} from './client.ts';
export {
  type AppleErrorInfo,
  AppStoreError,
  type AppStoreErrorKind,
  appStoreErrorKinds,
  authFailureMessage,
  errorFromResponse,
  type ForbiddenReason,
  forbiddenAgreementsMessage,
  forbiddenReasonOf,
  forbiddenRoleMessage,
  isAppStoreError,
  noAppsMessage,
} from './errors.ts';
export { buildUrl, DEFAULT_PAGE_LIMIT, type Query, type QueryValue } from './pagination.ts';
export { parseRateLimit } from './rate-limit.ts';
export * from './resources.ts';
export { backoffDelay, isRetryableStatus, parseRetryAfter, retryDelay } from './retry.ts';
export type { ClientStats } from './stats.ts';
export { TOKEN_AUDIENCE, tokenClaims } from './token.ts';
export { tokenCacheKey } from './token-cache.ts';
