import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { openApiDocument } from '../../src/http/api/openapi.ts';
import { routes } from '../../src/http/api/routes.ts';

/*
 * Every answer an API test receives is checked against the generated OpenAPI document: its status
 * must be documented for that operation, its content type too, and its body must validate
 * against the documented schema (strict objects: an extra field fails). A route and the document
 * that disagree fail the test that called it.
 */

type Doc = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components: unknown;
};

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export interface DocumentChecker {
  document: Doc;
  /** Throws with the reasons when the answer is not what the document says. */
  check(method: string, path: string, status: number, contentType: string | null, body: unknown): void;
}

export function documentChecker(document: Doc = openApiDocument(routes) as Doc): DocumentChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const compiled = new Map<string, ValidateFunction>();
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  return {
    document,
    check(method, path, status, contentType, body) {
      const pathOnly = path.split('?')[0]!.replace(/^\/api\/v1/, '');
      const found = templates.find((t) => t.pattern.test(pathOnly));
      if (!found) throw new Error(`${method} ${path}: no such path in the OpenAPI document`);
      const operation = document.paths[found.template]![method.toLowerCase()];
      if (!operation) throw new Error(`${method} ${found.template}: no such operation in the document`);
      const response = operation.responses[String(status)];
      if (!response) {
        throw new Error(
          `${method} ${found.template} answered ${status}, which the document does not list (${Object.keys(operation.responses).join(', ')}): ${JSON.stringify(body).slice(0, 500)}`,
        );
      }
      const type = (contentType ?? '').split(';')[0]!.trim();
      const media = response.content?.[type];
      if (!media) {
        throw new Error(`${method} ${found.template} ${status}: content type ${type} is not documented`);
      }
      const key = `${method} ${found.template} ${status} ${type}`;
      let validate = compiled.get(key);
      if (!validate) {
        validate = ajv.compile({ ...(media.schema as object), components: document.components });
        compiled.set(key, validate);
      }
      if (!validate(body)) {
        throw new Error(
          `${key}: the body does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 1000)}`,
        );
      }
    },
  };
}
