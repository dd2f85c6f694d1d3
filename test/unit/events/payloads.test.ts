import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../../src/events/ids.ts';
import { endpointMatches } from '../../../src/events/match.ts';
import {
  actionForStatus,
  boundedMessage,
  buildCredentialsVerified,
  buildStatusChanged,
  buildSyncFailed,
} from '../../../src/events/payloads.ts';
import { signatureHeader } from '../../../src/events/secrets.ts';
import { payloadSchemas } from '../../../src/events/types.ts';

describe('other payloads', () => {
  it('bounds and scrubs messages', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----';
    expect(boundedMessage(`bad ${pem}`)).not.toMatch(/MIGTAgEA/);
    expect(boundedMessage('x'.repeat(5000))).toHaveLength(1000);
    const failed = buildSyncFailed({
      runId: null,
      jobId: '7',
      trigger: 'schedule',
      attempts: 5,
      errorKind: 'transient',
      errorMessage: `Bearer eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln ${'y'.repeat(3000)}`,
    });
    expect(failed.errorMessage).not.toMatch(/eyJhbGciOiJFUzI1NiJ9/);
    expect(failed.errorMessage.length).toBeLessThanOrEqual(1000);
    expect(payloadSchemas['sync.failed'].parse(failed)).toEqual(failed);
  });

  it('says what to do for every status', () => {
    for (const status of ['valid', 'invalid', 'forbidden', 'no_apps', 'unverified'] as const) {
      expect(actionForStatus(status).length).toBeGreaterThan(10);
    }
    const changed = buildStatusChanged({
      keyId: 'K',
      from: 'valid',
      to: 'forbidden',
      detail: 'role',
      source: 'sync',
    });
    expect(changed.action).toMatch(/App Manager/);
  });

  it('bounds the apps of credentials.verified', () => {
    const apps = Array.from({ length: 250 }, (_, i) => ({
      appStoreId: String(i),
      bundleId: `b${i}`,
      name: `n${i}`,
      sku: 'x',
    }));
    const payload = buildCredentialsVerified({ keyId: 'K', status: 'valid', detail: null, apps });
    expect(payload.appCount).toBe(250);
    expect(payload.apps).toHaveLength(200);
    expect(payload.apps[0]).toEqual({ appStoreId: '0', bundleId: 'b0', name: 'n0' });
  });
});

describe('matching, ids, signatures', () => {
  it('matches endpoints by project and type', () => {
    const event = { type: 'catalog.changed', projectId: 'p1', payload: {} };
    expect(endpointMatches({ id: 'a', projectId: null, eventTypes: [] }, event)).toBe(true);
    expect(endpointMatches({ id: 'a', projectId: 'p1', eventTypes: ['catalog.changed'] }, event)).toBe(true);
    expect(endpointMatches({ id: 'a', projectId: 'p2', eventTypes: [] }, event)).toBe(false);
    expect(endpointMatches({ id: 'a', projectId: null, eventTypes: ['sync.failed'] }, event)).toBe(false);
    const disabled = { type: 'webhook.endpoint_disabled', projectId: null, payload: { endpointId: 'a' } };
    expect(endpointMatches({ id: 'a', projectId: null, eventTypes: [] }, disabled)).toBe(false);
    expect(endpointMatches({ id: 'b', projectId: null, eventTypes: [] }, disabled)).toBe(true);
  });

  it('makes time-ordered UUIDv7s', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
  });

  it('signs with every secret so a receiver with either verifies', () => {
    const one = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    const two = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
    const at = new Date();
    const body = '{"a":1}';
    const header = signatureHeader([one, two], 'evt_1', at, body);
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': header,
    };
    expect(new Webhook(one).verify(body, headers)).toEqual({ a: 1 });
    expect(new Webhook(two).verify(body, headers)).toEqual({ a: 1 });
  });
});
