import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_DOC, configVariables, renderConfigurationDoc } from '../../../scripts/config-doc.ts';
import { envSchema } from '../../../src/config/env.ts';

const ENV_TS = path.join(import.meta.dirname, '..', '..', '..', 'src', 'config', 'env.ts');

/** The variables docs/configuration.md lists (first column of its table). */
function documented(markdown: string): string[] {
  return [...markdown.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!);
}

/** Every variable src/config/env.ts reads: its schema's keys and any `env.X` / `process.env.X` in the file. */
function readByEnvTs(): string[] {
  const source = readFileSync(ENV_TS, 'utf8');
  const mentioned = [...source.matchAll(/\b(?:process\.)?env(?:\.|\[['"])([A-Z][A-Z0-9_]*)/g)].map(
    (m) => m[1]!,
  );
  return [...new Set([...Object.keys(envSchema.shape), ...mentioned])];
}

describe('docs/configuration.md', () => {
  const doc = readFileSync(CONFIGURATION_DOC, 'utf8');

  it('lists every variable src/config/env.ts reads, and no other', () => {
    const inDoc = new Set(documented(doc));
    const read = new Set(readByEnvTs());
    const missingFromDoc = [...read].filter((name) => !inDoc.has(name));
    const notRead = [...inDoc].filter((name) => !read.has(name));
    expect(
      { missingFromDoc, notRead },
      'src/config/env.ts and docs/configuration.md disagree: run `npm run docs:config`',
    ).toEqual({ missingFromDoc: [], notRead: [] });
  });

  it('is what the schema generates (descriptions and defaults included)', () => {
    expect(doc, 'docs/configuration.md is out of date: run `npm run docs:config`').toBe(
      renderConfigurationDoc(),
    );
  });

  it('takes each description from the schema', () => {
    const byName = new Map(configVariables().map((v) => [v.name, v]));
    expect(byName.get('SCHEDULE_RECONCILE_INTERVAL_MS')).toMatchObject({ defaultText: '`300000`' });
    expect(byName.get('DATABASE_URL')!.defaultText).toBe('—');
    for (const v of byName.values()) expect(v.description.length, v.name).toBeGreaterThan(10);
  });

  it('catches a variable read by env.ts but not documented, and one documented but not read', () => {
    const lines = doc.split('\n');
    const withoutOne = lines.filter((l) => !l.startsWith('| `SCHEDULE_RECONCILE_INTERVAL_MS` |')).join('\n');
    expect(documented(withoutOne)).not.toContain('SCHEDULE_RECONCILE_INTERVAL_MS');
    expect(readByEnvTs()).toContain('SCHEDULE_RECONCILE_INTERVAL_MS');
    expect(documented(`${doc}| \`NOT_A_VARIABLE\` | — | x |\n`)).toContain('NOT_A_VARIABLE');
    expect(readByEnvTs()).not.toContain('NOT_A_VARIABLE');
  });
});
