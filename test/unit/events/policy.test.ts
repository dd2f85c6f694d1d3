import { describe, expect, it } from 'vitest';
import { checkAddress, checkWebhookUrl } from '../../../src/events/policy.ts';

const strict = { allowHttpLoopback: false, allowPrivateAddresses: false };
const loopbackOk = { allowHttpLoopback: true, allowPrivateAddresses: false };

describe('webhook URL policy', () => {
  it.each([
    'https://10.0.0.1/hook',
    'https://10.255.255.255/',
    'https://169.254.169.254/latest/meta-data',
    'https://192.168.1.20/hook',
    'https://172.16.0.1/',
    'https://172.31.255.1/',
    'https://100.64.0.1/',
    'https://127.0.0.1/',
    'https://0.0.0.0/',
    'https://[::1]/',
    'https://[fe80::1]/',
    'https://[fd00::1]/',
    'https://[::ffff:10.0.0.1]/',
    'https://[::ffff:169.254.169.254]/',
    'https://224.0.0.1/',
    'https://localhost/',
  ])('refuses %s', (url) => {
    expect(() => checkWebhookUrl(url, strict)).toThrow(/url: refused/);
  });

  it.each([
    ['http://example.com/hook', /must use https/],
    ['ftp://example.com/', /must use https/],
    ['https://user:pass@example.com/', /user name or password/],
    ['not a url', /not a valid URL/],
    ['https://example.com/#frag', /fragment/],
    [`https://example.com/${'a'.repeat(2100)}`, /at most/],
  ])('refuses %s', (url, message) => {
    expect(() => checkWebhookUrl(url, strict)).toThrow(message);
  });

  it('accepts public https URLs, normalised', () => {
    expect(checkWebhookUrl(' https://hooks.example.com/a?b=1 ', strict)).toBe(
      'https://hooks.example.com/a?b=1',
    );
    expect(checkWebhookUrl('https://8.8.8.8/x', strict)).toBe('https://8.8.8.8/x');
    expect(checkWebhookUrl('https://[2606:4700::1111]/x', strict)).toBe('https://[2606:4700::1111]/x');
  });

  it('plain http only to loopback, only when allowed', () => {
    expect(() => checkWebhookUrl('http://127.0.0.1:8080/x', strict)).toThrow(/WEBHOOKS_ALLOW_HTTP_LOOPBACK/);
    expect(checkWebhookUrl('http://127.0.0.1:8080/x', loopbackOk)).toBe('http://127.0.0.1:8080/x');
    expect(checkWebhookUrl('http://localhost:8080/x', loopbackOk)).toBe('http://localhost:8080/x');
    expect(() => checkWebhookUrl('http://10.0.0.1/x', loopbackOk)).toThrow(/private address/);
    expect(() => checkWebhookUrl('http://example.com/x', loopbackOk)).toThrow(/must use https/);
    expect(() => checkWebhookUrl('https://10.0.0.1/x', loopbackOk)).toThrow(/refused/);
  });

  it('private addresses only when explicitly allowed', () => {
    const internal = { allowHttpLoopback: false, allowPrivateAddresses: true };
    expect(checkWebhookUrl('https://10.0.0.1/x', internal)).toBe('https://10.0.0.1/x');
  });
});

describe('address checks (after DNS resolution)', () => {
  it('classifies resolved addresses', () => {
    expect(checkAddress('93.184.216.34', strict).ok).toBe(true);
    expect(checkAddress('2606:2800:220:1::1', strict).ok).toBe(true);
    for (const address of [
      '10.1.2.3',
      '192.168.0.1',
      '169.254.169.254',
      '127.0.0.1',
      '::1',
      'fe80::1',
      '::ffff:192.168.0.1',
    ]) {
      expect(checkAddress(address, strict).ok, address).toBe(false);
    }
    expect(checkAddress('127.0.0.1', loopbackOk).ok).toBe(true);
    expect(checkAddress('10.0.0.1', loopbackOk).ok).toBe(false);
    expect(checkAddress('nonsense', strict).ok).toBe(false);
  });
});

describe('the lookup used when connecting (DNS rebinding)', () => {
  it('refuses a name that resolves to a loopback or private address', async () => {
    const { guardedLookup } = await import('../../../src/events/send.ts');
    const refused = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      guardedLookup(strict)('localhost', { all: true }, (error) => resolve(error)),
    );
    expect(refused?.code).toBe('EADDRREFUSED_POLICY');
    const allowed = await new Promise<unknown>((resolve) =>
      guardedLookup(loopbackOk)('localhost', { family: 4 }, (error, address) => resolve(error ?? address)),
    );
    expect(allowed).toBe('127.0.0.1');
  });

  it('a delivery to such a name fails without connecting', async () => {
    const { sendWebhook } = await import('../../../src/events/send.ts');
    const { hostname } = await import('node:os');
    const { lookup } = await import('node:dns/promises');
    // A name other than localhost that resolves to loopback (the host's own name, on most machines).
    const name = hostname();
    const resolved = await lookup(name).catch(() => undefined);
    if (!resolved || checkAddress(resolved.address, strict).ok) return;
    const result = await sendWebhook({
      url: `https://${name}:1/hook`,
      msgId: 'evt_1',
      body: '{}',
      secrets: [`whsec_${Buffer.alloc(32, 1).toString('base64')}`],
      timeoutMs: 1000,
      policy: strict,
    });
    expect(result.statusCode).toBeUndefined();
    expect(result.error).toMatch(/refused/);
  });
});
