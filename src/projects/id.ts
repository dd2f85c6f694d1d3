import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';

/**
 * The platform's own project id, as stored in `projects.id` and carried by every job: 1–200
 * printable ASCII characters, no spaces. The queue contract publishes this schema.
 */
export const projectIdSchema = z
  .string({ message: 'projectId must be a string' })
  .regex(/^[\x21-\x7e]{1,200}$/, {
    message: 'projectId must be 1–200 printable characters without spaces (the platform’s own project id)',
  });

/**
 * Checks a project id given by a person or the platform, after trimming what may have been pasted
 * around it. Throws InvalidInputError on `projectId`.
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
