import { InvalidInputError } from '../errors.ts';

/*
 * The one duration grammar of the project: schedules (`--every`, `{ every }`), `--since`, and
 * durations in the environment all read it. A duration is one or more `<whole number><unit>`
 * parts, units s, m, h, d, w: `90s`, `30m`, `6h`, `1d`, `2w`, `1h30m`. Pure, no I/O.
 */

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;
type Unit = keyof typeof UNIT_SECONDS;

export const DURATION_HINT = 'use whole numbers with a unit (s, m, h, d, w), e.g. 30m, 6h, 1d, 2w or 1h30m';

/**
 * Seconds in `text`, or an InvalidInputError naming `field`. `max` bounds the result (seconds).
 */
export function parseDuration(text: string, field: string, options: { max?: number } = {}): number {
  const trimmed = typeof text === 'string' ? text.trim().toLowerCase() : '';
  if (!/^(\d{1,9}[smhdw])+$/.test(trimmed)) {
    throw new InvalidInputError(field, `${JSON.stringify(text)} is not a duration; ${DURATION_HINT}`);
  }
  let seconds = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) {
    seconds += Number(amount) * UNIT_SECONDS[unit as Unit];
  }
  if (seconds < 1) throw new InvalidInputError(field, `must be at least 1s; ${DURATION_HINT}`);
  if (options.max !== undefined && seconds > options.max) {
    throw new InvalidInputError(field, `must be at most ${formatDuration(options.max)}`);
  }
  return seconds;
}

/** The shortest spelling of a whole number of seconds: 5400 → `1h30m`, 1209600 → `2w`. */
export function formatDuration(seconds: number): string {
  let rest = Math.floor(seconds);
  let out = '';
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNIT_SECONDS[unit];
    const amount = Math.floor(rest / size);
    if (amount > 0) out += `${amount}${unit}`;
    rest -= amount * size;
  }
  return out || '0s';
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * A point in time given as an ISO date-time (`2026-01-31T12:00:00Z`, or a date `2026-01-31`) or
 * as a duration back from `now` (`24h`, `7d`, `2w`). Out-of-range values are refused here, so
 * they never reach the database as a query error.
 */
export function parseInstant(
  text: string,
  field: string,
  options: { now?: Date; allowDuration?: boolean } = {},
): Date {
  const now = options.now ?? new Date();
  const trimmed = typeof text === 'string' ? text.trim() : '';
  const allowDuration = options.allowDuration ?? true;
  if (allowDuration && /^(\d+[smhdw])+$/i.test(trimmed)) {
    const seconds = parseDuration(trimmed, field);
    const at = new Date(now.getTime() - seconds * 1000);
    // Postgres keeps timestamps from 4713 BC; years before 1 are refused here, not by a query error.
    if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1) {
      throw new InvalidInputError(
        field,
        `${JSON.stringify(text)} reaches back before the year 1; give a shorter duration or a date.`,
      );
    }
    return at;
  }
  if (ISO_DATE.test(trimmed)) {
    const date = new Date(trimmed);
    const year = date.getUTCFullYear();
    if (!Number.isNaN(date.getTime()) && year >= 1 && year <= 9999) return date;
  }
  throw new InvalidInputError(
    field,
    `${JSON.stringify(text)} is not ${allowDuration ? 'an ISO date-time (2026-01-31T12:00:00Z) nor a duration such as 30m, 24h, 7d or 2w' : 'an ISO date-time such as 2026-01-31T12:00:00Z'}.`,
  );
}
