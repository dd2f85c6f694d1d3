import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { eventsReference } from '../src/events/reference.ts';

/*
 * Writes docs/events.md from the event schemas (src/events/reference.ts). `--check` writes
 * nothing and exits 1 when the file is not what the schemas give (CI, and the unit test).
 */
const file = path.join(import.meta.dirname, '..', 'docs', 'events.md');
const wanted = eventsReference();
if (process.argv.includes('--check')) {
  const current = readFileSync(file, 'utf8');
  if (current !== wanted) {
    process.stderr.write(
      'docs/events.md differs from the event schemas: run `node scripts/events-reference.ts`.\n',
    );
    process.exit(1);
  }
} else {
  writeFileSync(file, wanted);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
