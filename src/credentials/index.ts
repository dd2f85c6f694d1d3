export {
  decryptSecret,
  encryptionKeyFingerprint,
  encryptSecret,
  type SealedSecret,
  sealedKeyId,
} from '../secrets/crypto.ts';
export {
  type AppStoreClient,
  type ClientOverrides,
  type CredentialsSummary,
  clientForStoredKey,
  keyLoadingFailure,
  loadClientForProject,
  loadCredentials,
  type ProjectClient,
  recordCredentialFailure,
  recordCredentialSuccess,
  type StoredKey,
  saveCredentials,
  statusForFailure,
} from './store.ts';
export {
  type CredentialsInput,
  credentialsInputSchema,
  type ParsedCredentials,
  parseCredentialsInput,
  parsedCredentialsSchema,
} from './validate.ts';
