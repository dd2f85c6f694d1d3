import { invalidRequestError } from './errors.ts';

/*
 * URL building and the rules for following `links.next`: only to the configured API origin
 * (the bearer token goes wherever we follow), never twice to the same page, never past the
 * page ceiling. The loop takes its page fetcher as a parameter so it is testable alone.
 */

export type QueryValue = string | number | boolean | readonly (string | number)[] | null | undefined;
export type Query = Record<string, QueryValue>;

/** Apple's `limit` maximum for the collections the worker reads. */
export const DEFAULT_PAGE_LIMIT = 200;

function isAbsolute(pathOrUrl: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUrl);
}

export function sameOrigin(a: URL, b: URL): boolean {
  // `host` includes the port unless it is the scheme's default, so 443 vs :443 compare equal.
  return a.protocol === b.protocol && a.host === b.host;
}

/**
 * Resolves a path (`/v1/apps`) against the base URL (keeping any path prefix the base has),
 * or accepts an absolute URL on the same origin. Query values replace those already in the URL;
 * arrays become Apple's comma-separated form (`fields[apps]=name,bundleId`).
 */
export function buildUrl(baseUrl: string, pathOrUrl: string, query: Query = {}): URL {
  const base = new URL(baseUrl);
  let url: URL;
  if (isAbsolute(pathOrUrl)) {
    url = new URL(pathOrUrl);
    if (!sameOrigin(url, base)) {
      throw invalidRequestError(
        `GET ${url.pathname}`,
        `Refused to send a request to ${url.origin}: only the configured App Store Connect API (${base.origin}) ` +
          'receives the API token.',
      );
    }
  } else {
    const prefix = base.pathname.replace(/\/+$/, '');
    const path = pathOrUrl.startsWith('/') ? pathOrUrl : `/${pathOrUrl}`;
    url = new URL(`${base.origin}${prefix}${path}`);
  }
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    url.searchParams.set(name, Array.isArray(value) ? value.join(',') : String(value));
  }
  return url;
}

/**
 * Validates a `links.next` value: resolved against the current page, it must stay on the
 * base URL's scheme, host and port; anything else is refused (never followed with the token).
 */
export function resolveNextLink(next: string, current: URL, baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(next, current);
  } catch {
    throw invalidRequestError(
      `GET ${current.pathname}`,
      `App Store Connect returned an unreadable next link for GET ${current.pathname}; stopped paginating.`,
    );
  }
  const base = new URL(baseUrl);
  if (!sameOrigin(url, base)) {
    throw invalidRequestError(
      `GET ${current.pathname}`,
      `Refused next link to another host (${url.protocol}//${url.host}) while paginating GET ${current.pathname}: ` +
        `only ${base.origin} is followed. Check APP_STORE_CONNECT_BASE_URL.`,
    );
  }
  return url;
}

/** Tracks pages seen in one pagination: a repeated URL or cursor, or too many pages, stops it. */
export class PageGuard {
  readonly #maxPages: number;
  readonly #request: string;
  readonly #urls = new Set<string>();
  readonly #cursors = new Set<string>();
  #pages = 0;

  constructor(maxPages: number, request: string) {
    this.#maxPages = maxPages;
    this.#request = request;
  }

  get pages(): number {
    return this.#pages;
  }

  /** Call before fetching each page (the first included). */
  visit(url: URL): void {
    if (this.#pages >= this.#maxPages) {
      throw invalidRequestError(
        this.#request,
        `Stopped paginating ${this.#request} after ${this.#maxPages} pages (the page ceiling, ` +
          'APP_STORE_CONNECT_MAX_PAGES). Raise it if the catalog is really this large; otherwise the API is looping.',
      );
    }
    const key = url.href;
    const cursor = url.searchParams.get('cursor');
    if (this.#urls.has(key) || (cursor !== null && this.#cursors.has(cursor))) {
      throw invalidRequestError(
        this.#request,
        `App Store Connect returned a repeated cursor (a next link to a page already read) while paginating ` +
          `${this.#request}; stopped to avoid a loop. Try again later.`,
      );
    }
    this.#urls.add(key);
    if (cursor !== null) this.#cursors.add(cursor);
    this.#pages++;
  }
}

export interface Page<T> {
  data: T[];
  included?: unknown[] | undefined;
  links?: { next?: string | null | undefined } | undefined;
}

export interface PaginateOptions {
  baseUrl: string;
  maxPages: number;
}

/**
 * Fetches the first page and follows `links.next` to the end. Any failure (a page that
 * keeps failing, a refused link) throws: the caller never sees a partial list.
 * `included` is deduplicated by type and id across pages.
 */
export async function collectPages<T>(
  first: URL,
  fetchPage: (url: URL) => Promise<Page<T>>,
  options: PaginateOptions,
): Promise<{ data: T[]; included: unknown[]; pages: number }> {
  const request = `GET ${first.pathname}`;
  const guard = new PageGuard(options.maxPages, request);
  const data: T[] = [];
  const included: unknown[] = [];
  const includedKeys = new Set<string>();
  let url: URL | undefined = first;
  while (url) {
    guard.visit(url);
    const page: Page<T> = await fetchPage(url);
    data.push(...page.data);
    for (const resource of page.included ?? []) {
      const key = resourceKey(resource);
      if (key !== undefined) {
        if (includedKeys.has(key)) continue;
        includedKeys.add(key);
      }
      included.push(resource);
    }
    const next = page.links?.next;
    url = next ? resolveNextLink(next, url, options.baseUrl) : undefined;
  }
  return { data, included, pages: guard.pages };
}

function resourceKey(resource: unknown): string | undefined {
  if (resource === null || typeof resource !== 'object') return undefined;
  const { type, id } = resource as { type?: unknown; id?: unknown };
  return typeof type === 'string' && typeof id === 'string' ? `${type}/${id}` : undefined;
}
