// The server side of the web client (server/rest/web.router.ts): POST /dev/login exists only
// with DEV_LOGIN=1, mints a short-lived role-less token the gateway accepts, validates its body,
// refuses clearly when the server has no HS256 key to sign with; the bundle is served at /.
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../server/auth/jwt.js';
import { loadConfig } from '../server/config.js';
import { createLogger } from '../server/logger.js';
import { errorMiddleware, notFound } from '../server/rest/errors.middleware.js';
import { DEV_TOKEN_TTL_SEC, createWebRouter } from '../server/rest/web.router.js';
import { buildWeb } from './build.js';

const SECRET = 'web-router-test-secret';

async function serve(env: Record<string, string>) {
  const config = loadConfig(env);
  const app = express();
  app.use(createWebRouter({ config }));
  app.use(notFound);
  app.use(errorMiddleware(createLogger({ level: 'silent', nodeId: 'test' })));
  const server = app.listen(0);
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const login = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${base}/dev/login`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { base, login, config, close: () => new Promise((r) => server.close(r)) };
}

describe('web router', () => {
  let on: Awaited<ReturnType<typeof serve>>;
  let off: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    await buildWeb();
    on = await serve({ JWT_SECRET: SECRET, DEV_LOGIN: '1', JWT_ISSUER: 'auth', JWT_AUDIENCE: 'chat' });
    off = await serve({ JWT_SECRET: SECRET });
  });
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  it('has no /dev/login unless DEV_LOGIN=1 (404, as for any unknown route)', async () => {
    const res = await off.login({ userId: 'alice' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('mints a short-lived token without roles that the gateway verifies', async () => {
    const res = await on.login({ userId: 'alice' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { userId: string; token: string; expiresAt: string };
    expect(body.userId).toBe('alice');
    const identity = createTokenVerifier(on.config.auth)(body.token);
    expect(identity).toMatchObject({ userId: 'alice', roles: [] });
    const ttl = (identity.expiresAt - Date.now()) / 1000;
    expect(ttl).toBeGreaterThan(DEV_TOKEN_TTL_SEC - 30);
    expect(ttl).toBeLessThanOrEqual(DEV_TOKEN_TTL_SEC);
    expect(Math.abs(Date.parse(body.expiresAt) - identity.expiresAt)).toBeLessThan(2_000);
    expect(jwt.decode(body.token)).toMatchObject({ iss: 'auth', aud: 'chat' });
  });

  it.each([
    ['no body', undefined],
    ['empty user id', { userId: '' }],
    ['user id too long', { userId: 'x'.repeat(129) }],
    ['padded user id', { userId: ' alice ' }],
    ['control characters', { userId: 'al\u0000ice' }],
    ['extra fields (no asking for roles)', { userId: 'alice', roles: ['admin'] }],
    ['not a string', { userId: 42 }],
  ])('refuses %s with 400', async (_name, body) => {
    const res = await on.login(body ?? '');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
  });

  it('refuses malformed JSON and large bodies', async () => {
    expect((await on.login('{"userId":')).status).toBe(400);
    expect((await on.login({ userId: 'a', pad: 'x'.repeat(4_000) })).status).toBe(413);
  });

  it('says why when the server has no HS256 key to sign with', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsOnly = await serve({ JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(), DEV_LOGIN: '1' });
    try {
      const res = await rsOnly.login({ userId: 'alice' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/JWT_SECRET/);
    } finally {
      await rsOnly.close();
    }
  });

  it('serves the bundle at / with no inline script', async () => {
    const page = await fetch(`${off.base}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script type="module" src="app.js"></script>');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const js = await fetch(`${off.base}/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${off.base}/nope.js`)).status).toBe(404);
  });
});
