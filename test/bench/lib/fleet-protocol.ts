/** Messages between the fleet scenario and its worker process (Node IPC). */

export interface JobTiming {
  /** BullMQ timestamps (ms since epoch): when a worker took the job and when it finished. */
  processedOn: number;
  finishedOn: number;
  /** The sync's own duration (SyncSummary.durationMs). */
  syncMs: number;
  unchanged: boolean;
  requests: number;
}

export type ToWorker =
  | { type: 'progress' }
  | { type: 'mark' }
  /** CPU profile of a stretch of work (node:inspector), written as a .cpuprofile file. */
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string };

export type FromWorker =
  | { type: 'ready'; concurrency: number }
  | { type: 'profile-started' }
  | { type: 'profile-stopped'; file: string }
  | { type: 'progress'; completed: number; failed: number; lastError: string | null }
  | {
      type: 'mark';
      /** process.cpuUsage() so far, µs. */
      cpu: { user: number; system: number };
      /** performance.eventLoopUtilization() so far: how busy the one JavaScript thread was. */
      elu: { idle: number; active: number };
      /** Context switches so far (process.resourceUsage()): involuntary = preempted while runnable. */
      switches: { voluntary: number; involuntary: number };
      /** Peak resident set size so far, KiB (process.resourceUsage().maxRSS). */
      maxRssKiB: number;
      completed: number;
      failed: number;
      /** Jobs finished since the previous mark. */
      jobs: JobTiming[];
    };
