import { importPKCS8, SignJWT } from 'jose';
import { afterAll } from 'vitest';
import {
  type CreatedKey,
  type CreateKeyOptions,
  type GenerateCatalogOptions,
  generateCatalog,
  type SimCatalog,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../../src/simulator/index.ts';

/** Starts a simulator for the file and closes it after the file's tests. */
export async function useSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options);
  afterAll(() => sim.close());
  return sim;
}

export interface TokenOptions {
  /** Seconds since epoch the token is issued at (default: now − 60). */
  iat?: number;
  /** Lifetime in seconds (default 15 minutes). */
  lifetime?: number;
  exp?: number;
  iss?: string;
  aud?: string | string[];
  kid?: string;
  typ?: string | null;
  scope?: string[];
  /** Sign with this PEM instead of the key's own. */
  signWith?: string;
  nowMs?: number;
}

export async function mintToken(key: CreatedKey, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const iat = options.iat ?? now - 60;
  const exp = options.exp ?? iat + (options.lifetime ?? 15 * 60);
  const header: { alg: string; kid: string; typ?: string } = { alg: 'ES256', kid: options.kid ?? key.keyId };
  if (options.typ !== null) header.typ = options.typ ?? 'JWT';
  const claims: Record<string, unknown> = {
    iss: options.iss ?? key.issuerId,
    iat,
    exp,
    aud: options.aud ?? 'appstoreconnect-v1',
  };
  if (options.scope) claims['scope'] = options.scope;
  const privateKey = await importPKCS8(options.signWith ?? key.privateKeyPem, 'ES256');
  return new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
}

export interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** A GET as the worker's client makes it; `pathOrUrl` may be an absolute next link. */
export async function get(sim: Simulator, pathOrUrl: string, token?: string): Promise<Reply> {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${sim.baseUrl}${pathOrUrl}`;
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** A key and a ready token for it. */
export async function keyWithToken(
  sim: Simulator,
  options: CreateKeyOptions = {},
): Promise<{ key: CreatedKey; token: string }> {
  const key = await sim.createKey(options);
  return { key, token: await mintToken(key) };
}

export function smallCatalog(overrides: Partial<GenerateCatalogOptions> = {}): SimCatalog {
  return generateCatalog({
    seed: 11,
    apps: [
      { id: '1500000001', bundleId: 'com.example.app', iaps: 7, groups: 2, subscriptionsPerGroup: [3, 2] },
      {
        id: '1500000002',
        bundleId: 'com.example.other',
        iaps: 2,
        groups: 1,
        subscriptionsPerGroup: 1,
        grace: null,
      },
    ],
    ...overrides,
  });
}

export interface ErrorBody {
  errors: { status: string; code: string; title: string; detail: string; source?: { parameter?: string } }[];
}

export const firstError = (reply: Reply) => (reply.body as ErrorBody).errors[0]!;

export const APPLE_401 = {
  errors: [
    {
      status: '401',
      code: 'NOT_AUTHORIZED',
      title: 'Authentication credentials are missing or invalid.',
      detail:
        'Provide a properly configured and signed bearer token, and make sure that it has not expired. Learn more about Generating Tokens for API Requests https://developer.apple.com/go/?id=api-generating-tokens',
    },
  ],
};

export interface Linkage {
  type: string;
  id: string;
}

/** A relationship object as documents carry it. */
export interface Relationship {
  links?: { self: string; related: string };
  meta?: { paging: { total: number; limit: number } };
  data?: Linkage | Linkage[];
}
