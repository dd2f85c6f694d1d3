import { InvalidInputError } from '../errors.ts';
import { projectIdSchema } from '../queue/contract.ts';

/**
 * The platform's project id, checked by the queue contract's schema (the one definition), after
 * trimming what a person may have pasted around it. Throws InvalidInputError on `projectId`.
 */
export function parseProjectId(value: unknown): string {
  const parsed = projectIdSchema.safeParse(typeof value === 'string' ? value.trim() : value);
  if (!parsed.success) {
    throw new InvalidInputError(
      'projectId',
      'must be 1–200 printable characters without spaces (the platform’s own project id)',
    );
  }
  return parsed.data;
}
