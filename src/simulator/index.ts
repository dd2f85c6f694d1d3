/*
 * An App Store Connect simulator as strict as Apple, for tests, the demo and benchmarks.
 * See server.ts (startSimulator), generate.ts (generateCatalog), catalog.ts (the catalog and
 * its file format) and control.ts (the HTTP control endpoint).
 */
export type { AppleError } from './apple-errors.ts';
export type { KeyInfo, KeyPatch } from './auth.ts';
export {
  CATALOG_ROLES,
  compareIds,
  countProducts,
  type SimApp,
  type SimCatalog,
  type SimGrace,
  type SimGroup,
  type SimIap,
  type SimKey,
  type SimKeyInput,
  type SimSubscription,
  simCatalogSchema,
  USER_ROLES,
  type UserRole,
} from './catalog.ts';
export { loadCatalogFile, saveCatalogFile } from './catalog-file.ts';
export { DEFAULT_INCLUDE_LIMIT, DEFAULT_PAGE_LIMIT } from './endpoints.ts';
export type { FaultRule } from './faults.ts';
export {
  type GenerateAppOptions,
  type GenerateCatalogOptions,
  generateCatalog,
  sampleCatalog,
  UNKNOWN_IAP_STATE,
  UNKNOWN_SUBSCRIPTION_STATE,
} from './generate.ts';
export { generateKeyPair, p8FileName, publicKeyFromPrivate, randomIssuerId, randomKeyId } from './keys.ts';
export type { AppInput, GraceInput, GroupInput, SimMutations } from './mutate.ts';
export {
  type CreatedKey,
  type CreateKeyOptions,
  DEFAULT_RATE_LIMIT_PER_HOUR,
  type SimRequest,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from './server.ts';
