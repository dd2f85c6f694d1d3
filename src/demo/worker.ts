import { startWorkerService } from '../../jobs/main.ts';
import type { ServiceContext } from '../context.ts';

/**
 * The same worker `catalog-sync worker` runs, in this process: the embedded database allows one
 * opener, so the worker shares the demo's. No health server (the demo needs no port).
 */
export async function startDemoWorker(
  ctx: ServiceContext,
): Promise<{ concurrency: number; close(): Promise<void> }> {
  const service = await startWorkerService(ctx, { metricsPort: 0 });
  return { concurrency: service.worker.concurrency, close: () => service.close('demo finished') };
}
