import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import type { Machine } from './machine.ts';

export type Cell = string | number | null;

export interface ResultTable {
  title: string;
  columns: string[];
  rows: Cell[][];
}

export interface TargetCheck {
  /** What is measured, e.g. "requests = lower bound (every shape)". */
  name: string;
  target: string;
  actual: string;
  met: boolean;
  /** By how much it was missed, and why, when it was. */
  note?: string;
}

export interface ScenarioResult {
  tables: ResultTable[];
  targets: TargetCheck[];
  notes: string[];
  /** Raw figures for machines (every run, not only medians). */
  data: unknown;
}

export interface ScenarioRecord extends ScenarioResult {
  scenario: number;
  key: string;
  title: string;
  quick: boolean;
  startedAt: string;
  durationMs: number;
  machine: Machine;
}

function show(cell: Cell): string {
  if (cell === null) return '—';
  if (typeof cell === 'number') {
    if (Number.isNaN(cell)) return 'n/a';
    return Number.isInteger(cell) ? String(cell) : cell.toFixed(Math.abs(cell) >= 100 ? 0 : 2);
  }
  return cell;
}

export function renderTerminal(table: ResultTable): string {
  const t = new Table({ head: table.columns, style: { head: [], border: [] } });
  for (const row of table.rows) t.push(row.map(show));
  return `${table.title}\n${t.toString()}`;
}

export function renderMarkdown(table: ResultTable): string {
  const escapeCell = (s: string) => s.replaceAll('|', '\\|');
  const lines = [
    `| ${table.columns.map(escapeCell).join(' | ')} |`,
    `|${table.columns.map(() => '---').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map((c) => escapeCell(show(c))).join(' | ')} |`),
  ];
  return `**${table.title}**\n\n${lines.join('\n')}`;
}

export function renderTargets(targets: TargetCheck[]): ResultTable {
  return {
    title: 'Targets',
    columns: ['check', 'target', 'actual', 'met'],
    rows: targets.map((t) => [
      t.name,
      t.target,
      t.actual,
      t.met ? 'yes' : `NO${t.note ? ` (${t.note})` : ''}`,
    ]),
  };
}

export function writeRecord(outDir: string, record: ScenarioRecord): string {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${record.key}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

/** A Markdown summary of a whole run: the machine and every table, ready for docs/benchmarks.md. */
export function writeSummary(
  outDir: string,
  machine: Machine,
  records: ScenarioRecord[],
  quick: boolean,
): string {
  mkdirSync(outDir, { recursive: true });
  const parts = [
    `Run ${new Date().toISOString()}${quick ? ' (--quick)' : ''} on ${describeMachine(machine)}; ` +
      `${Math.round((machine.busyBeforeRun ?? Number.NaN) * 100)}% of the CPU was busy with other work just before it.`,
    ...records.flatMap((r) => [
      `### ${r.scenario}. ${r.title}`,
      ...r.tables.map(renderMarkdown),
      renderMarkdown(renderTargets(r.targets)),
      ...r.notes.map((n) => `- ${n}`),
    ]),
  ];
  const file = path.join(outDir, quick ? 'summary-quick.md' : 'summary.md');
  writeFileSync(file, `${parts.join('\n\n')}\n`);
  return file;
}

export function describeMachine(m: Machine): string {
  return (
    `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, ` +
    `PostgreSQL ${m.postgres ?? '?'}, Redis ${m.redis ?? '?'}`
  );
}
