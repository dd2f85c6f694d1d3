import type { Readable } from 'node:stream';

/*
 * NDJSON input of any size, line by line with bounded memory: a line longer than the limit is
 * reported and skipped up to its newline (never buffered whole), bad JSON is reported with its
 * line number, and a last line without its newline that does not parse is called truncated.
 */

export type NdjsonItem = { index: number; value: unknown } | { index: number; unreadable: string };

/** The longest line accepted (a notification's signedPayload is a few KiB). */
export const MAX_LINE_BYTES = 1024 * 1024;

export async function* ndjsonItems(
  input: Readable | AsyncIterable<Buffer | string>,
  maxLineBytes = MAX_LINE_BYTES,
): AsyncGenerator<NdjsonItem> {
  let parts: Buffer[] = [];
  let length = 0;
  let skipping = false;
  let line = 0;
  const parse = (text: string, last: boolean): NdjsonItem | null => {
    const index = line++;
    const trimmed = text.trim();
    if (trimmed === '') return null;
    try {
      return { index, value: JSON.parse(trimmed) };
    } catch (error) {
      return {
        index,
        unreadable: last
          ? `line ${index + 1} is truncated: the input ended in the middle of a JSON value`
          : `line ${index + 1} is not valid JSON (${(error as Error).message}): each line must be one JSON object`,
      };
    }
  };
  for await (const chunk of input) {
    let buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (;;) {
      const newline = buffer.indexOf(10);
      if (newline === -1) {
        if (!skipping) {
          parts.push(buffer);
          length += buffer.length;
          if (length > maxLineBytes) {
            skipping = true;
            parts = [];
            length = 0;
          }
        }
        break;
      }
      const head = buffer.subarray(0, newline);
      buffer = buffer.subarray(newline + 1);
      if (skipping) {
        skipping = false;
        yield { index: line, unreadable: `line ${line + 1} is longer than ${maxLineBytes} bytes: skipped` };
        line++;
        continue;
      }
      parts.push(head);
      length += head.length;
      if (length > maxLineBytes) {
        parts = [];
        length = 0;
        yield { index: line, unreadable: `line ${line + 1} is longer than ${maxLineBytes} bytes: skipped` };
        line++;
        continue;
      }
      const item = parse(Buffer.concat(parts, length).toString('utf8'), false);
      parts = [];
      length = 0;
      if (item) yield item;
    }
  }
  if (skipping) {
    yield { index: line, unreadable: `line ${line + 1} is longer than ${maxLineBytes} bytes: skipped` };
  } else if (length > 0) {
    const item = parse(Buffer.concat(parts, length).toString('utf8'), true);
    if (item) yield item;
  }
}
