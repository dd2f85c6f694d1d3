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
  OFFER_KINDS,
  type OfferKind,
  type SimApp,
  type SimAvailability,
  type SimCatalog,
  type SimDetails,
  type SimGrace,
  type SimGroup,
  type SimIap,
  type SimKey,
  type SimKeyInput,
  type SimLocalization,
  type SimOffer,
  type SimPrice,
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
export { addDays, DEFAULT_LOCALES, type GenerateDetailsOptions } from './generate-details.ts';
export { generateKeyPair, p8FileName, publicKeyFromPrivate, randomIssuerId, randomKeyId } from './keys.ts';
export type {
  AppInput,
  GraceInput,
  GroupInput,
  LocalizationInput,
  OfferInput,
  PriceInput,
  SimMutations,
} from './mutate.ts';
export {
  type CreatedKey,
  type CreateKeyOptions,
  DEFAULT_RATE_LIMIT_PER_HOUR,
  type RateLimitSettings,
  type SimRequest,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from './server.ts';
export {
  amountsFor,
  PRICE_TIERS,
  type PriceAmounts,
  TERRITORIES,
  TERRITORY_COUNT,
  TERRITORY_IDS,
  type Territory,
  TIER_COUNT,
  tierFor,
} from './territories.ts';
