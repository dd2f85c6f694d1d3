import { describe, expect, it } from 'vitest';
import { createWorkerMetrics } from '../../../jobs/metrics.ts';

describe('event metrics', () => {
  it('counts deliveries by outcome and reads the outbox age at scrape time', async () => {
    const metrics = createWorkerMetrics();
    metrics.webhookDelivery('succeeded');
    metrics.webhookDelivery('succeeded');
    metrics.webhookDelivery('retrying');
    metrics.observeOutbox(async () => 42.5);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/catalog_sync_webhook_deliveries_total\{outcome="succeeded"\} 2/);
    expect(text).toMatch(/catalog_sync_webhook_deliveries_total\{outcome="retrying"\} 1/);
    expect(text).toMatch(/catalog_sync_events_outbox_oldest_age_seconds 42\.5/);
  });
});
