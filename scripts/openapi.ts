// Writes docs/openapi.json from the routes' zod schemas (test/unit/http/openapi.test.ts fails when it is stale).
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../src/http/api/openapi.ts';
import { routes } from '../src/http/api/routes.ts';

export const OPENAPI_FILE = new URL('../docs/openapi.json', import.meta.url);

writeFileSync(OPENAPI_FILE, `${JSON.stringify(openApiDocument(routes), null, 2)}\n`);
process.stdout.write(`wrote ${OPENAPI_FILE.pathname}\n`);
