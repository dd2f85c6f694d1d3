// The worker's heap, measured in the fleet benchmark (docs/benchmarks.md): at 50 syncs at once a
// worker keeps about 50 MiB live, but Node 24 let its heap grow to 260–300 MiB of mostly garbage:
//  - the young generation to 128 MiB (kept once grown): 16 MiB per semi-space, Node 20's default;
//  - the old generation to up to 4 times what survived the last full collection: 2 times here.
// Peak RSS per process went to 200–216 MiB, for CPU per sync within the run-to-run noise. Plain
// JavaScript, like the rest of bin/: read before any TypeScript can load.

/** V8 flags `catalog-sync worker` runs with (fixed when V8 starts, so given on its command line). */
export const WORKER_V8_FLAGS = ['--max-semi-space-size=16', '--heap-growing-percent=100'];

/** Those of WORKER_V8_FLAGS that neither node's own flags nor NODE_OPTIONS set (to any value). */
export function missingWorkerFlags(execArgv, nodeOptions = '') {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  return WORKER_V8_FLAGS.filter((flag) => {
    const name = flag.slice(0, flag.indexOf('='));
    return !given.some((arg) => arg === name || arg.startsWith(`${name}=`));
  });
}
