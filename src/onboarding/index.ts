export {
  type DiscoveredApp,
  discoveredAppSchema,
  listDiscoveredApps,
  type SelectedApp,
  selectApp,
  selectedApp,
  selectedAppSchema,
  toDiscoveredApp,
} from './apps.ts';
export {
  probeCatalogAccess,
  type VerifyResult,
  type VerifyStatus,
  verifyCredentials,
  verifyStatuses,
} from './verify.ts';
