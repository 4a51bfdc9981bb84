import jwt from 'jsonwebtoken';

export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

/** Mints an HS256 token for `sub`; `opts` can change claims or the key for negative tests. */
export function mintToken(
  sub: string,
  opts: { expiresInSec?: number; secret?: string; roles?: string[]; claims?: Record<string, unknown>; sign?: jwt.SignOptions } = {},
): string {
  const payload: Record<string, unknown> = { sub, ...(opts.roles ? { roles: opts.roles } : {}), ...opts.claims };
  return jwt.sign(payload, opts.secret ?? TEST_SECRET, {
    algorithm: 'HS256',
    expiresIn: opts.expiresInSec ?? 3600,
    ...opts.sign,
  });
}
