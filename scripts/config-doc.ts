/**
 * docs/configuration.md, generated from the zod schema of src/config/env.ts: one row per variable
 * with its default (what the schema gives an unset variable) and its description (the schema's
 * `.describe()`). `npm run docs:config` rewrites the file; test/unit/config/configuration-doc.test.ts
 * fails when the file and the schema disagree.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { envSchema } from '../src/config/env.ts';

export const CONFIGURATION_DOC = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'docs',
  'configuration.md',
);

export interface ConfigVariable {
  name: string;
  /** Markdown: the default in code, or "—" when an unset variable stays unset. */
  defaultText: string;
  description: string;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function defaultOf(schema: z.ZodType): string {
  const parsed = schema.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return '—';
  const value = parsed.data;
  return `\`${Array.isArray(value) ? value.join(',') : String(value)}\``;
}

/** The variables the schema reads, in its order. */
export function configVariables(): ConfigVariable[] {
  return Object.entries(envSchema.shape).map(([name, schema]) => {
    const description = (schema as z.ZodType).description;
    if (!description) {
      throw new Error(
        `${name} in src/config/env.ts has no description: add .describe('…') to its schema (it becomes its line in docs/configuration.md).`,
      );
    }
    return { name, defaultText: defaultOf(schema as z.ZodType), description };
  });
}

export function renderConfigurationDoc(): string {
  const rows = configVariables().map(
    (v) => `| \`${v.name}\` | ${cell(v.defaultText)} | ${cell(v.description)} |`,
  );
  return `# Configuration

<!-- Generated from the zod schema of src/config/env.ts by \`npm run docs:config\`; do not edit by hand. -->

Everything comes from the environment, parsed once at start-up (\`src/config/env.ts\`). A bad value
stops start-up with one message that names every bad variable (values are never echoed).
Whole numbers are decimal digits only (\`1e3\`, \`0x10\`, \`+5\`, \`1.5\` are refused) within a range.

Every bound on what comes in (\`APP_STORE_CONNECT_MAX_*\`, \`SYNC_MAX_PRODUCT_ATTRIBUTES_BYTES\`) fails
that sync at once, without retries, with a message naming the limit and the variable to raise.

To add a variable: add it to the schema with a \`.describe('…')\`, then run \`npm run docs:config\`.

| Variable | Default | Meaning |
| --- | --- | --- |
${rows.join('\n')}
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(CONFIGURATION_DOC, renderConfigurationDoc());
  process.stdout.write(`wrote ${path.relative(process.cwd(), CONFIGURATION_DOC)}\n`);
}
