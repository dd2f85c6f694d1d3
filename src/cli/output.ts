import Table from 'cli-table3';

/** Options every command takes. */
export interface OutputOptions {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export type Cell = string | number | boolean | null | undefined | Date;

function formatCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** A readable table for a terminal. */
export function renderTable(head: string[], rows: Cell[][]): string {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) table.push(row.map(formatCell));
  return table.toString();
}

/** Prints `value` as JSON with --json, else the human rendering. */
export function printResult(options: OutputOptions, value: unknown, human: () => string): void {
  if (options.json) printJson(value);
  else process.stdout.write(`${human()}\n`);
}
