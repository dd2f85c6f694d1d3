import { scrubSecrets } from '../log/logger.ts';
import {
  type CredentialsStatusChangedPayload,
  type CredentialsVerifiedPayload,
  MAX_APPS_IN_EVENT,
  MAX_MESSAGE_CHARS,
  type SyncFailedPayload,
} from './types.ts';

/* Pure builders of event payloads (unit-tested): what goes out, bounded and scrubbed. */

/** A message safe to send: secrets scrubbed, at most MAX_MESSAGE_CHARS. */
export function boundedMessage(message: string | null | undefined, max = MAX_MESSAGE_CHARS): string {
  const clean = scrubSecrets(String(message ?? ''));
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}

export function buildSyncFailed(input: {
  runId: string | null;
  jobId: string | null;
  trigger: string | null;
  attempts: number;
  errorKind: string;
  errorMessage: string;
}): SyncFailedPayload {
  return { version: 1, ...input, errorMessage: boundedMessage(input.errorMessage) };
}

type Status = CredentialsStatusChangedPayload['to'];

/** What a person should do when credentials reach `status`. */
export function actionForStatus(status: Status): string {
  switch (status) {
    case 'valid':
      return 'Nothing: the key works again; syncs proceed.';
    case 'invalid':
      return (
        'App Store Connect refused the key (401): check the Key ID, the Issuer ID and that the .p8 belongs to ' +
        'that key (a team API key, not an In-App Purchase key), then save the credentials again and verify.'
      );
    case 'forbidden':
      return (
        'App Store Connect denied access (403): give the key the App Manager role (or Admin) or accept the ' +
        'pending agreements in App Store Connect, then verify again.'
      );
    case 'no_apps':
      return 'The key sees no apps: give it access to the app in App Store Connect (Users and Access), then verify again.';
    case 'unverified':
      return 'New credentials were saved: verify them.';
  }
}

export function buildStatusChanged(input: {
  keyId: string;
  from: Status;
  to: Status;
  detail: string | null;
  source: 'sync' | 'verify';
}): CredentialsStatusChangedPayload {
  return {
    version: 1,
    keyId: input.keyId,
    from: input.from,
    to: input.to,
    detail: input.detail === null ? null : boundedMessage(input.detail),
    action: actionForStatus(input.to),
    source: input.source,
  };
}

export function buildCredentialsVerified(input: {
  keyId: string;
  status: Status;
  detail: string | null;
  apps: { appStoreId: string; bundleId: string; name: string }[];
}): CredentialsVerifiedPayload {
  return {
    version: 1,
    keyId: input.keyId,
    status: input.status,
    detail: input.detail === null ? null : boundedMessage(input.detail),
    appCount: input.apps.length,
    apps: input.apps
      .slice(0, MAX_APPS_IN_EVENT)
      .map((app) => ({ appStoreId: app.appStoreId, bundleId: app.bundleId, name: app.name })),
  };
}
