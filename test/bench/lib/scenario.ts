import type { BenchArgs } from './args.ts';
import type { Cleanup } from './cleanup.ts';
import type { Machine } from './machine.ts';
import type { ScenarioResult } from './report.ts';
import type { BenchServices } from './services.ts';

export interface ScenarioContext {
  args: BenchArgs;
  quick: boolean;
  services: BenchServices;
  machine: Machine;
  /** Undo actions of this scenario; run when it ends, whether it passed or threw. */
  cleanup: Cleanup;
  /** Progress for the person watching (stderr, so stdout stays tables). */
  progress(message: string): void;
}

export interface Scenario {
  id: number;
  /** File name of its results: bench-results/<key>.json. */
  key: string;
  title: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
