// JWT verification shared by the socket handshake and REST. Every key has an explicit
// algorithm list (no `none`, no HS/RS confusion), `exp` is required, `nbf` honoured, and
// `iss`/`aud` checked when configured. Keys can rotate by `kid`.
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { UserIdSchema } from '../../protocol/index.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

export interface Identity {
  userId: string;
  roles: string[];
  /** Epoch milliseconds. */
  expiresAt: number;
}

const ClaimsSchema = z.object({
  sub: UserIdSchema,
  exp: z.number().int(),
  roles: z.array(z.string().max(64)).max(32).optional(),
});

const MAX_TOKEN_CHARS = 8 * 1024;

/**
 * Keys are turned into KeyObjects once: given a string, jsonwebtoken does it on every verify
 * (trying createPublicKey and catching its failure for a secret), which was 14 % of a REST
 * node's CPU under load.
 */
function toKeyObject(key: string, algorithms: Config['auth']['keys'][number]['algorithms']): KeyObject {
  return algorithms.includes('HS256') ? createSecretKey(Buffer.from(key, 'utf8')) : createPublicKey(key);
}

export function createTokenVerifier(auth: Config['auth']) {
  const keys = auth.keys.map((k) => ({ ...k, object: toKeyObject(k.key, k.algorithms) }));
  const byKid = new Map(keys.filter((k) => k.kid !== undefined).map((k) => [k.kid!, k]));
  const defaults = keys.filter((k) => k.kid === undefined);

  return function verifyToken(token: unknown): Identity {
    if (typeof token !== 'string' || token.length === 0) throw new AppError('UNAUTHENTICATED', 'missing token');
    if (token.length > MAX_TOKEN_CHARS) throw new AppError('UNAUTHENTICATED', 'token too large');
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') throw new AppError('UNAUTHENTICATED', 'malformed token');
    const kid = decoded.header.kid;
    const candidates = kid !== undefined ? (byKid.has(kid) ? [byKid.get(kid)!] : []) : defaults;
    if (candidates.length === 0) throw new AppError('UNAUTHENTICATED', 'unknown signing key');

    let lastError: unknown;
    for (const key of candidates) {
      try {
        const payload = jwt.verify(token, key.object, {
          algorithms: key.algorithms,
          ...(auth.issuer ? { issuer: auth.issuer } : {}),
          ...(auth.audience ? { audience: auth.audience } : {}),
        });
        const claims = ClaimsSchema.safeParse(payload);
        if (!claims.success) {
          const field = claims.error.issues[0]?.path.join('.') ?? 'claims';
          throw new AppError('UNAUTHENTICATED', `token claim ${field} is missing or invalid`);
        }
        return { userId: claims.data.sub, roles: claims.data.roles ?? [], expiresAt: claims.data.exp * 1000 };
      } catch (err) {
        lastError = err;
      }
    }
    if (lastError instanceof AppError) throw lastError;
    const reason =
      lastError instanceof jwt.TokenExpiredError
        ? 'token expired'
        : lastError instanceof jwt.NotBeforeError
          ? 'token not yet valid'
          : 'invalid token';
    throw new AppError('UNAUTHENTICATED', reason, { cause: lastError });
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;
