import type { z } from 'zod';
import { boundText } from '../errors.ts';
import { schemaError } from './errors.ts';
import { collectUnknownEnumValues, type UnknownEnumValue } from './resources.ts';

/*
 * Turning a response body into a typed document, with errors a person can act on:
 * the JSON path of the first problem (`data[3].attributes.productId: expected string, got number`).
 */

/**
 * Whether `value` (parsed JSON) nests deeper than `max` arrays/objects. Iterative, so a hostile
 * document cannot overflow the stack here, and it stops at the first branch past the bound:
 * everything after the parse (zod, canonical JSON, the diff) recurses, and must not see it.
 * Two parallel stacks and `for…in` rather than a [value, depth] pair and Object.values() per
 * object: every response of every sync passes here (85 KB of allocation per 100-product re-sync).
 */
export function exceedsJsonDepth(value: unknown, max: number): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > max) return true;
    if (Array.isArray(current)) {
      for (const child of current) {
        if (child !== null && typeof child === 'object') {
          values.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    // JSON.parse makes plain objects whose keys are all own (a "__proto__" key included).
    for (const key in current) {
      const child = (current as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/** `['data', 3, 'attributes', 'productId']` → `data[3].attributes.productId`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(body)';
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

/** One line per issue: path, what was expected, what came. */
export function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = boundText(formatPath(issue.path), 300);
  const got = describe(valueAt(input, issue.path));
  switch (issue.code) {
    case 'invalid_type':
      return `${where}: expected ${issue.expected}, got ${got}`;
    case 'invalid_value':
      return `${where}: expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${
        typeof valueAt(input, issue.path) === 'string'
          ? boundText(JSON.stringify(valueAt(input, issue.path)), 200)
          : got
      }`;
    default:
      return boundText(`${where}: ${issue.message}`, 500);
  }
}

export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string {
  const first = issues[0];
  if (!first) return '(unknown problem)';
  const more = issues.length - 1;
  return (
    describeIssue(first, input) + (more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'})` : '')
  );
}

export interface ParsedBody<T> {
  value: T;
  unknownEnumValues: UnknownEnumValue[];
}

/** Validates `body` against `schema`; throws AppStoreError 'schema' naming the path. */
export function parseBody<S extends z.ZodType>(
  schema: S,
  body: unknown,
  request: string,
): ParsedBody<z.output<S>> {
  const { result, unknown } = collectUnknownEnumValues(() => schema.safeParse(body));
  if (!result.success) throw schemaError(request, describeIssues(result.error.issues, body));
  return { value: result.data, unknownEnumValues: unknown };
}
