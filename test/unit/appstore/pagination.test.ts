import { describe, expect, it } from 'vitest';
import { AppStoreError } from '../../../src/appstore/errors.ts';
import { buildUrl, collectPages, type Page, resolveNextLink } from '../../../src/appstore/pagination.ts';

const BASE = 'https://api.appstoreconnect.apple.com';

describe('buildUrl', () => {
  it('joins paths, keeps a base path prefix and writes arrays comma-separated', () => {
    expect(
      buildUrl(BASE, '/v1/apps', { 'fields[apps]': ['name', 'bundleId'], limit: 200, x: undefined }).href,
    ).toBe(`${BASE}/v1/apps?fields%5Bapps%5D=name%2CbundleId&limit=200`);
    expect(buildUrl('http://127.0.0.1:9/proxy/', 'v1/apps').href).toBe('http://127.0.0.1:9/proxy/v1/apps');
  });

  it('accepts same-origin absolute URLs and refuses others', () => {
    expect(buildUrl(BASE, `${BASE}/v1/apps?cursor=abc`).searchParams.get('cursor')).toBe('abc');
    expect(() => buildUrl(BASE, 'https://evil.example/v1/apps')).toThrow(AppStoreError);
  });
});

describe('resolveNextLink', () => {
  const current = new URL(`${BASE}/v1/apps?limit=200`);
  it('follows links on the API host, relative ones included', () => {
    expect(resolveNextLink(`${BASE}/v1/apps?cursor=Mg&limit=200`, current, BASE).href).toBe(
      `${BASE}/v1/apps?cursor=Mg&limit=200`,
    );
    expect(resolveNextLink('/v1/apps?cursor=Mg', current, BASE).href).toBe(`${BASE}/v1/apps?cursor=Mg`);
    expect(resolveNextLink('https://api.appstoreconnect.apple.com:443/v1/apps', current, BASE).host).toBe(
      'api.appstoreconnect.apple.com',
    );
  });

  it.each([
    'https://evil.example/v1/apps?cursor=Mg',
    'http://api.appstoreconnect.apple.com/v1/apps?cursor=Mg',
    'https://api.appstoreconnect.apple.com:8443/v1/apps?cursor=Mg',
    '//evil.example/v1/apps',
  ])('refuses %s', (next) => {
    try {
      resolveNextLink(next, current, BASE);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppStoreError);
      expect((error as AppStoreError).kind).toBe('invalid_request');
      expect((error as AppStoreError).message).toMatch(/refused next link to another host/i);
    }
  });
});

function pages(sequence: Record<string, Page<number>>) {
  const fetched: string[] = [];
  return {
    fetched,
    fetchPage: async (url: URL) => {
      fetched.push(url.pathname + url.search);
      const page = sequence[url.search || '?'];
      if (!page) throw new Error(`no page for ${url.search}`);
      return page;
    },
  };
}

describe('collectPages', () => {
  const first = new URL(`${BASE}/v1/apps?limit=2`);

  it('follows next to the end and deduplicates included resources', async () => {
    const { fetchPage, fetched } = pages({
      '?limit=2': {
        data: [1, 2],
        included: [{ type: 't', id: 'a' }],
        links: { next: `${BASE}/v1/apps?cursor=B&limit=2` },
      },
      '?cursor=B&limit=2': {
        data: [3, 4],
        included: [
          { type: 't', id: 'a' },
          { type: 't', id: 'b' },
        ],
        links: { next: `${BASE}/v1/apps?cursor=C&limit=2` },
      },
      '?cursor=C&limit=2': { data: [5], links: {} },
    });
    const result = await collectPages(first, fetchPage, { baseUrl: BASE, maxPages: 10 });
    expect(result.data).toEqual([1, 2, 3, 4, 5]);
    expect(result.included).toEqual([
      { type: 't', id: 'a' },
      { type: 't', id: 'b' },
    ]);
    expect(result.pages).toBe(3);
    expect(fetched).toHaveLength(3);
  });

  it('stops on a repeated cursor, even when the rest of the URL differs', async () => {
    const { fetchPage } = pages({
      '?limit=2': { data: [1], links: { next: `${BASE}/v1/apps?cursor=B&limit=2` } },
      '?cursor=B&limit=2': { data: [2], links: { next: `${BASE}/v1/apps?limit=2&cursor=B` } },
    });
    await expect(collectPages(first, fetchPage, { baseUrl: BASE, maxPages: 10 })).rejects.toMatchObject({
      kind: 'invalid_request',
      message: expect.stringContaining('repeated cursor'),
    });
  });

  it('stops on a next link back to the first page', async () => {
    const { fetchPage } = pages({ '?limit=2': { data: [1], links: { next: `${BASE}/v1/apps?limit=2` } } });
    await expect(collectPages(first, fetchPage, { baseUrl: BASE, maxPages: 10 })).rejects.toMatchObject({
      kind: 'invalid_request',
    });
  });

  it('stops past the page ceiling', async () => {
    let n = 0;
    const fetchPage = async () => ({ data: [n], links: { next: `${BASE}/v1/apps?cursor=${++n}` } });
    await expect(collectPages(first, fetchPage, { baseUrl: BASE, maxPages: 5 })).rejects.toMatchObject({
      kind: 'invalid_request',
      message: expect.stringContaining('after 5 pages'),
    });
    expect(n).toBe(5);
  });

  it('throws (no partial list) when any page fails', async () => {
    const { fetchPage } = pages({
      '?limit=2': { data: [1, 2], links: { next: `${BASE}/v1/apps?cursor=missing` } },
    });
    await expect(collectPages(first, fetchPage, { baseUrl: BASE, maxPages: 10 })).rejects.toThrow('no page');
  });
});
