/**
 * A stack of undo actions (child processes, scratch databases, Redis keys) run in reverse
 * order on success, failure and Ctrl-C alike, so a benchmark never leaves anything behind.
 */
export interface Cleanup {
  /** Registers an undo action; returns a function that runs it early (and only once). */
  defer(label: string, action: () => Promise<void> | void): () => Promise<void>;
  /** Runs every pending action, newest first; errors are reported, not thrown. */
  runAll(): Promise<void>;
}

export function createCleanup(report: (message: string) => void = (m) => console.error(m)): Cleanup {
  const stack: { label: string; run: () => Promise<void> }[] = [];
  const defer: Cleanup['defer'] = (label, action) => {
    let done = false;
    const entry = {
      label,
      run: async () => {
        if (done) return;
        done = true;
        const index = stack.indexOf(entry);
        if (index >= 0) stack.splice(index, 1);
        await action();
      },
    };
    stack.push(entry);
    return entry.run;
  };
  const runAll = async () => {
    while (stack.length > 0) {
      const entry = stack[stack.length - 1]!;
      try {
        await entry.run();
      } catch (error) {
        report(`cleanup "${entry.label}" failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  return { defer, runAll };
}
