import type { QueueEvents } from 'bullmq';
import type { ServiceContext } from '../context.ts';
import type { QueueRedis } from '../queue/connection.ts';
import type { QueueHandle } from '../queue/queue.ts';

/*
 * What every application function receives. The entry points (the public API, the CLI, the
 * worker, the console) build it and own what it opens: the database is open before the call;
 * the queue is opened on first use, because most operations never touch Redis (a CLI `status`
 * must not need it), and closed by the owner.
 */
export interface AppContext extends ServiceContext {
  /** The `catalog-sync` queue (producer side), opened on first use. */
  queue(): Promise<QueueHandle>;
  /** Queue events, for waiting on a job's result; opened on first use. */
  queueEvents(): Promise<QueueEvents>;
  /**
   * The queue's Redis without BullMQ, for what only reads its keys (when schedules run next), so
   * that a read command does not load BullMQ; opened on first use. A context without it (the
   * worker's, whose queue is open anyway) is read through queue().
   */
  redis?(): Promise<QueueRedis>;
}

/** What an operation that never touches the queue needs (tests may pass a plain service context). */
export type DataContext = Pick<AppContext, 'db' | 'config' | 'logger'>;

/** Opens once on first use; a failed open is forgotten so the next call tries again. */
export function lazy<T>(open: () => Promise<T>): { get(): Promise<T>; peek(): Promise<T> | undefined } {
  let pending: Promise<T> | undefined;
  return {
    get() {
      pending ??= open().catch((error: unknown) => {
        pending = undefined;
        throw error;
      });
      return pending;
    },
    peek: () => pending,
  };
}

/**
 * The queue side of an AppContext, opened lazily from the config; `close()` closes what was
 * opened. The worker passes its own open queue instead.
 */
export function lazyQueue(config: ServiceContext['config']): {
  queue: AppContext['queue'];
  queueEvents: AppContext['queueEvents'];
  redis: NonNullable<AppContext['redis']>;
  close(): Promise<void>;
} {
  // One connection: the queue, when something needs it, is built on the one reads opened.
  const connection = lazy(async () =>
    (await import('../queue/connection.ts')).openQueueConnection(config, 'client'),
  );
  const handle = lazy(async () =>
    (await import('../queue/queue.ts')).queueOn(await connection.get(), config),
  );
  const events = lazy(async () => {
    const opened = (await import('../queue/queue.ts')).openQueueEvents(config);
    await opened.waitUntilReady();
    return opened;
  });
  return {
    queue: () => handle.get(),
    queueEvents: () => events.get(),
    redis: () => connection.get(),
    async close() {
      const closeQueue = async () => {
        // The queue's close closes its connection (a second QUIT would keep the process up 2 s).
        const queue = await handle.peek()?.catch(() => undefined);
        if (queue) return queue.close();
        const opened = await connection.peek()?.catch(() => undefined);
        await opened?.close();
      };
      await Promise.allSettled([events.peek()?.then((e) => e.close()), closeQueue()]);
    },
  };
}
