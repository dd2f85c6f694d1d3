import { createRequire } from 'node:module';

/*
 * Tables for people reading a terminal (the CLI and the demo). cli-table3 is loaded by the first
 * table, not by `--help`.
 */
const require = createRequire(import.meta.url);

export type Cell = string | number | boolean | null | undefined | Date;

function formatCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** Widest a column grows before its cells wrap (an error message would otherwise run off screen). */
const MAX_COLUMN_WIDTH = 72;

/** A readable table for a terminal: long cells wrap at word boundaries. */
export function renderTable(head: string[], rows: Cell[][]): string {
  const cells = rows.map((row) => row.map(formatCell));
  const widest = (text: string) => Math.max(...text.split('\n').map((line) => line.length));
  const colWidths = head.map(
    (title, column) =>
      Math.min(MAX_COLUMN_WIDTH, Math.max(widest(title), ...cells.map((row) => widest(row[column] ?? '')))) +
      2,
  );
  const Table = require('cli-table3') as typeof import('cli-table3');
  const table = new Table({
    head,
    colWidths,
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: { head: [], border: [] },
  });
  for (const row of cells) table.push(row);
  return table.toString();
}
