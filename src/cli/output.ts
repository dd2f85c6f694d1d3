export { type Cell, renderTable } from '../format/table.ts';

/** Options every command takes. */
export interface OutputOptions {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints `value` as JSON with --json, else the human rendering. */
export function printResult(options: OutputOptions, value: unknown, human: () => string): void {
  if (options.json) printJson(value);
  else process.stdout.write(`${human()}\n`);
}
