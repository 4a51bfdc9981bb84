// JWT verification keys from the environment: the JWT_KEYS rotation format and which
// algorithms a key may verify. Kept apart from config.ts, which only wires them in.

export interface JwtKey {
  /** `kid` header value, or undefined for the default key. */
  kid?: string;
  key: string;
  algorithms: ('HS256' | 'RS256' | 'ES256')[];
}

export const MIN_HS256_BYTES = 32;

/**
 * `JWT_KEYS`: `{ "<kid>": { "alg": "HS256"|"RS256"|"ES256", "key": "..." } }`, or the old
 * `{ "<kid>": "<key>" }` where the key type is unambiguous: a PEM public key (RS256/ES256) or an
 * HMAC secret that does not look like an unarmoured public key (base64 DER), which is refused.
 */
export function parseJwtKeys(raw: string): JwtKey[] {
  const shape = 'must be a JSON object of kid -> {"alg": "HS256"|"RS256"|"ES256", "key": "..."} (or kid -> PEM/secret)';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(shape);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(shape);
  return Object.entries(parsed as Record<string, unknown>).map(([kid, v]) => {
    if (typeof v === 'string' && v.length > 0) {
      const key = v.replace(/\\n/g, '\n');
      if (!key.includes('-----BEGIN') && /^(MII|MFkw|MHYw|MCow)[A-Za-z0-9+/]{40,}={0,2}$/.test(key))
        throw new Error(`key "${kid}" looks like a public key without PEM armour: give {"alg", "key"} explicitly`);
      return { kid, key, algorithms: algorithmsFor(key) };
    }
    const o = v as { alg?: unknown; key?: unknown } | null;
    if (typeof o !== 'object' || o === null || typeof o.key !== 'string' || o.key.length === 0 || !['HS256', 'RS256', 'ES256'].includes(o.alg as string))
      throw new Error(shape);
    const key = o.key.replace(/\\n/g, '\n');
    if (o.alg !== 'HS256' && !key.includes('-----BEGIN')) throw new Error(`key "${kid}": ${String(o.alg)} needs a PEM public key`);
    return { kid, key, algorithms: [o.alg as JwtKey['algorithms'][number]] };
  });
}

export function algorithmsFor(key: string): JwtKey['algorithms'] {
  if (!key.includes('-----BEGIN')) return ['HS256'];
  return key.includes('EC ') || key.includes('ecdsa') ? ['ES256'] : ['RS256', 'ES256'];
}

