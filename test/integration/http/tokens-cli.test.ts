import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { authenticateToken } from '../../../src/tokens/index.ts';
import { jsonOf } from '../../support/cli.ts';
import { useJobsHarness } from '../jobs/support.ts';

/* `catalog-sync tokens create|list|revoke` as a real process: shown once, stored hashed, revoked at once. */

const harness = useJobsHarness({ catalog: { seed: 25, apps: [] } });

describe('catalog-sync tokens', () => {
  it('creates a token shown once, lists it without its value, and revokes it by name', async () => {
    const created = await harness.cli([
      'tokens',
      'create',
      '--name',
      'go-backend',
      '--scope',
      'read',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { token, id, scope } = jsonOf(created) as { token: string; id: string; scope: string };
    expect(scope).toBe('read');
    expect(token.startsWith(`cst_${id}_`)).toBe(true);

    const stored = rowsOf<{ row: string }>(
      await harness.db().db.execute(sql`select t::text as row from api_tokens t`),
    );
    expect(stored).toHaveLength(1);
    expect(stored[0]!.row).not.toContain(token.slice(`cst_${id}_`.length));
    expect((await authenticateToken(harness.ctx(), token)).ok).toBe(true);

    const listed = await harness.cli(['tokens', 'list', '--json']);
    expect(listed.stdout).toContain('go-backend');
    expect(listed.stdout).not.toContain(token);

    const duplicate = await harness.cli(['tokens', 'create', '--name', 'go-backend', '--scope', 'read']);
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toMatch(/already exists/);
    const badScope = await harness.cli(['tokens', 'create', '--name', 'x', '--scope', 'admin']);
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toMatch(/--scope/);

    const revoked = await harness.cli(['tokens', 'revoke', 'go-backend', '--json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await authenticateToken(harness.ctx(), token)).toEqual({ ok: false, reason: 'revoked' });
    expect((await harness.cli(['tokens', 'list', '--json'])).stdout).not.toContain('go-backend');
    expect((await harness.cli(['tokens', 'list', '--all', '--json'])).stdout).toContain('go-backend');
    const again = await harness.cli(['tokens', 'revoke', 'go-backend']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/No active token/);
  });
});
