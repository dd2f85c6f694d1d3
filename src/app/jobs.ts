import type { Enqueued, EnqueueOutcome } from '../queue/producer.ts';

/** A queued job, by id; `outcome` says whether it is new or the one already waiting (deduplication). */
export interface JobRef {
  jobId: string;
  outcome: EnqueueOutcome;
}

export function jobRef(enqueued: Enqueued<unknown>): JobRef {
  return { jobId: String(enqueued.job.id), outcome: enqueued.outcome };
}
