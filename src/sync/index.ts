/** One project's sync (fetch → diff → write in one transaction) and the queries over what it stored. */
export { type ApplyInput, type ApplyOutcome, applyCatalog } from './apply.ts';
export { CALL_SITES, type FetchedCatalog, fetchCatalog } from './fetch.ts';
export { type LockMode, SYNC_LOCK_NAMESPACE } from './lock.ts';
export {
  type AppleResource,
  type FetchedResources,
  normaliseCatalog,
  UNKNOWN_IAP_KIND,
} from './normalise.ts';
export { type CatalogShape, criticalPath, requestLowerBound } from './plan.ts';
export {
  type ChangeRow,
  listChanges,
  listGroups,
  listProducts,
  type ProductRow,
  projectStatus,
  type RuleRow,
  rulesAt,
  rulesInForce,
  type StatusRows,
  type SyncRunRow,
} from './queries.ts';
export { type SyncOptions, type SyncSummary, syncProject } from './run.ts';
