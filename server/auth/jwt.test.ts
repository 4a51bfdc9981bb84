// The JWT table of PROTOCOL.md §2 and issue #6: every bad token is refused with UNAUTHENTICATED.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { AppError } from '../errors.js';
import { createTokenVerifier } from './jwt.js';

const SECRET = 'unit-secret-0123456789';
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

const now = () => Math.floor(Date.now() / 1000);
const hs = (payload: object, opts: jwt.SignOptions = {}, secret = SECRET) => jwt.sign(payload, secret, { algorithm: 'HS256', ...opts });
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

function code(verify: (t: unknown) => unknown, token: unknown): string {
  try {
    verify(token);
    return 'OK';
  } catch (err) {
    return err instanceof AppError ? err.code : 'THREW';
  }
}

describe('token verification', () => {
  const verify = createTokenVerifier(loadConfig({ JWT_SECRET: SECRET, JWT_ISSUER: 'auth', JWT_AUDIENCE: 'chat' }).auth);
  const good = { sub: 'alice', iss: 'auth', aud: 'chat', exp: now() + 60 };

  it('accepts a valid token and returns the identity', () => {
    const id = verify(hs({ ...good, roles: ['admin'] }));
    expect(id).toMatchObject({ userId: 'alice', roles: ['admin'] });
    expect(id.expiresAt).toBe(good.exp * 1000);
  });

  const table: [string, unknown][] = [
    ['missing', undefined],
    ['empty', ''],
    ['not a string', { $ne: null }],
    ['garbage', 'not.a.jwt'],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good)}.`],
    ['expired', hs({ ...good, exp: now() - 10 })],
    ['not yet valid (nbf)', hs({ ...good, nbf: now() + 600 })],
    ['missing exp', hs({ sub: 'alice', iss: 'auth', aud: 'chat' })],
    ['missing sub', hs({ iss: 'auth', aud: 'chat', exp: now() + 60 })],
    ['sub too long', hs({ ...good, sub: 'x'.repeat(129) })],
    ['wrong secret', hs(good, {}, 'other-secret')],
    ['wrong iss', hs({ ...good, iss: 'evil' })],
    ['wrong aud', hs({ ...good, aud: 'other' })],
    ['RS256 token for an HS256 key', jwt.sign(good, privateKey, { algorithm: 'RS256' })],
    ['unknown kid', hs(good, { keyid: 'nope' })],
    ['tampered payload', (() => { const [h, , s] = hs(good).split('.'); return `${h}.${b64({ ...good, sub: 'mallory' })}.${s}`; })()],
    ['huge token', 'a'.repeat(20_000)],
  ];
  it.each(table)('refuses %s', (_name, token) => {
    expect(code(verify, token)).toBe('UNAUTHENTICATED');
  });
});

describe('asymmetric keys and rotation', () => {
  it('RS256 public key: accepts RS256, refuses HS256 signed with the public key (confusion)', () => {
    const verify = createTokenVerifier(loadConfig({ JWT_PUBLIC_KEY: publicPem }).auth);
    const claims = { sub: 'bob', exp: now() + 60 };
    expect(code(verify, jwt.sign(claims, privateKey, { algorithm: 'RS256' }))).toBe('OK');
    // Forge an HS256 token using the PEM text as the HMAC secret.
    const head = b64({ alg: 'HS256', typ: 'JWT' });
    const body = b64(claims);
    const sig = createHmac('sha256', publicPem).update(`${head}.${body}`).digest('base64url');
    expect(code(verify, `${head}.${body}.${sig}`)).toBe('UNAUTHENTICATED');
  });

  it('picks the key named by kid', () => {
    const verify = createTokenVerifier(loadConfig({ JWT_KEYS: JSON.stringify({ k1: 'one-secret', k2: 'two-secret' }) }).auth);
    const claims = { sub: 'carol', exp: now() + 60 };
    expect(code(verify, hs(claims, { keyid: 'k2' }, 'two-secret'))).toBe('OK');
    expect(code(verify, hs(claims, { keyid: 'k1' }, 'two-secret'))).toBe('UNAUTHENTICATED');
    expect(code(verify, hs(claims, {}, 'two-secret'))).toBe('UNAUTHENTICATED');
  });
});

