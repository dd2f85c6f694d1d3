import type { ServiceContext } from '../context.ts';

/** The demo's in-process worker (wired to jobs/worker.ts once it lands). */
export async function startDemoWorker(_ctx: ServiceContext): Promise<{ name: string; close(): Promise<void> }> {
  throw new Error('The worker is not available yet.');
}
