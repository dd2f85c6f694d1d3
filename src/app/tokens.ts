import type { ApiTokenScope } from '../../db/schema.ts';
import {
  type ApiToken,
  createToken as createServiceToken,
  listTokens as listServiceTokens,
  revokeToken as revokeServiceToken,
} from '../tokens/index.ts';
import type { DataContext } from './context.ts';

/* Service tokens of the HTTP API (`catalog-sync tokens …`). */

export type { ApiToken };

/** A new token; `token` is its value, shown this once (only its hash is stored). */
export async function createApiToken(
  ctx: DataContext,
  input: { name: string; scope: ApiTokenScope },
): Promise<{ token: string } & ApiToken> {
  const { token, info } = await createServiceToken(ctx, input);
  return { ...info, token };
}

export async function listApiTokens(
  ctx: DataContext,
  input: { includeRevoked?: boolean } = {},
): Promise<{ tokens: ApiToken[] }> {
  return { tokens: await listServiceTokens(ctx, input) };
}

/** Revokes a token by id or name: every process refuses it from its next request. */
export async function revokeApiToken(ctx: DataContext, input: { token: string }): Promise<ApiToken> {
  return revokeServiceToken(ctx, input);
}
