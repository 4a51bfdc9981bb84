// Who is signed in and with which token. Kept in sessionStorage, so each tab can be a different
// user and a reload keeps the tab signed in. A development login renews its short-lived token
// by itself; a pasted token ends the session when it expires.
import { ApiError, devLogin } from './api.js';

export interface Session {
  userId: string;
  token: string;
  /** Epoch ms of the token's `exp`. */
  expiresAt: number;
  /** `dev`: minted by POST /dev/login and renewable; `token`: pasted by the user. */
  mode: 'dev' | 'token';
}

const KEY = 'relaygate.session';
/** Renew a development token this long before it expires. */
const RENEW_MARGIN_MS = 60_000;

/** Thrown when the token is gone for good and the user must sign in again. */
export class SessionEnded extends Error {
  override name = 'SessionEnded';
}

/** Reads `sub` and `exp` from a JWT without verifying it (the server does that). */
export function decodeToken(token: string): { sub: string; exp: number } | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const claims = JSON.parse(json) as { sub?: unknown; exp?: unknown };
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return undefined;
    return { sub: claims.sub, exp: claims.exp };
  } catch {
    return undefined;
  }
}

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Session;
    if (typeof s.userId !== 'string' || typeof s.token !== 'string' || typeof s.expiresAt !== 'number') return undefined;
    return s;
  } catch {
    return undefined;
  }
}

function save(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

export async function signInDev(userId: string): Promise<Session> {
  const res = await devLogin(userId);
  const s: Session = { userId: res.userId, token: res.token, expiresAt: Date.parse(res.expiresAt), mode: 'dev' };
  save(s);
  return s;
}

export function signInWithToken(token: string): Session {
  const claims = decodeToken(token.trim());
  if (!claims) throw new ApiError('INVALID_ARGUMENT', 'that is not a JWT with sub and exp', 0);
  if (claims.exp * 1000 <= Date.now()) throw new ApiError('UNAUTHENTICATED', 'that token has expired', 0);
  const s: Session = { userId: claims.sub, token: token.trim(), expiresAt: claims.exp * 1000, mode: 'token' };
  save(s);
  return s;
}

/** Hands out a token that is valid now, renewing a development token when it is about to expire. */
export class TokenSource {
  private renewing: Promise<Session> | undefined;

  constructor(private session: Session) {}

  get userId(): string {
    return this.session.userId;
  }

  async token(): Promise<string> {
    // A pasted token cannot be renewed: use it to the end.
    const margin = this.session.mode === 'dev' ? RENEW_MARGIN_MS : 0;
    if (this.session.expiresAt - Date.now() > margin) return this.session.token;
    return (await this.renew()).token;
  }

  /** Gets a new token now (after the server refused or expired the current one). */
  async renew(): Promise<Session> {
    if (this.session.mode !== 'dev') throw new SessionEnded('your token has expired; sign in again');
    this.renewing ??= signInDev(this.session.userId).finally(() => (this.renewing = undefined));
    try {
      this.session = await this.renewing;
    } catch (err) {
      if (err instanceof ApiError && err.status !== 0 && err.status < 500) throw new SessionEnded(err.message);
      throw err;
    }
    return this.session;
  }
}
