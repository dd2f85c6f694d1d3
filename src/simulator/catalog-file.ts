import { readFile, writeFile } from 'node:fs/promises';
import { InvalidInputError } from '../errors.ts';
import { type SimCatalog, simCatalogSchema } from './catalog.ts';

/*
 * The catalog file: `{ "apps": [...], "keys": [...] }` as in catalog.ts. Keys hold PUBLIC keys
 * only, so a benchmark can pre-load an out-of-process simulator with many keys whose .p8 it
 * keeps itself.
 */

export async function loadCatalogFile(path: string): Promise<SimCatalog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InvalidInputError(
      'catalog',
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path.`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidInputError('catalog', `${path} is not valid JSON; fix the file or regenerate it.`);
  }
  const parsed = simCatalogSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(root)';
    throw new InvalidInputError(
      'catalog',
      `${path}: ${where}: ${issue?.message ?? 'invalid'}; see src/simulator/catalog.ts for the format.`,
    );
  }
  return parsed.data;
}

export async function saveCatalogFile(path: string, catalog: SimCatalog): Promise<void> {
  await writeFile(path, JSON.stringify(catalog));
}
