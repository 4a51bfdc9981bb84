// REST calls (PROTOCOL.md §6) and the development login. Responses are checked against the
// protocol's schemas; a mismatch is logged as a contract warning and the data used anyway, so a
// newer server with extra fields still works while the end-to-end test can insist on none.
import type { z } from 'zod';
import {
  ErrorBodySchema,
  HistoryResponseSchema,
  ListConversationsResponseSchema,
  ListMembersResponseSchema,
  type ErrorCode,
  type HistoryResponse,
  type ListConversationsResponse,
} from '../../protocol/index.js';

/** A failed call: the wire error code, or `UNAVAILABLE` with status 0 when the network failed. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Prefix of console warnings about responses or events that break the protocol. */
export const CONTRACT_WARNING = '[relaygate] contract:';

/** Parses with a protocol schema; on mismatch warns and returns the data as received. */
export function checked<S extends z.ZodType>(schema: S, data: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  console.warn(`${CONTRACT_WARNING} ${what}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
  return data as z.output<S>;
}

async function request(method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        Accept: 'application/json',
        ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('UNAVAILABLE', 'the server cannot be reached', 0);
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (res.ok) return body;
  const err = ErrorBodySchema.safeParse(body);
  if (err.success) throw new ApiError(err.data.error.code, err.data.error.message, res.status);
  throw new ApiError(res.status === 404 ? 'NOT_FOUND' : 'INTERNAL', `${method} ${path}: HTTP ${res.status}`, res.status);
}

export interface DevLoginResponse {
  userId: string;
  token: string;
  expiresAt: string;
}

/** POST /dev/login: only on servers started with DEV_LOGIN=1 (404 elsewhere). */
export async function devLogin(userId: string): Promise<DevLoginResponse> {
  try {
    return (await request('POST', '/dev/login', { body: { userId } })) as DevLoginResponse;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404)
      throw new ApiError('NOT_FOUND', 'development sign-in is off on this server (start it with DEV_LOGIN=1), or paste a token', 404);
    throw err;
  }
}

/** The /v1 calls of the client, each with a fresh token and one retry after a 401. */
export function createApi(tokens: { token(): Promise<string>; renew(): Promise<unknown> }) {
  async function get(path: string): Promise<unknown> {
    try {
      return await request('GET', path, { token: await tokens.token() });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      await tokens.renew();
      return request('GET', path, { token: await tokens.token() });
    }
  }
  const enc = encodeURIComponent;
  return {
    async conversations(limit = 100): Promise<ListConversationsResponse> {
      return checked(ListConversationsResponseSchema, await get(`/v1/conversations?limit=${limit}`), 'GET /v1/conversations');
    },
    /** Newest first below `before` (or the newest page). */
    async history(conversationId: string, before?: number, limit = 30): Promise<HistoryResponse> {
      const q = new URLSearchParams({ limit: String(limit), ...(before !== undefined ? { before: String(before) } : {}) });
      return checked(HistoryResponseSchema, await get(`/v1/conversations/${enc(conversationId)}/messages?${q}`), 'GET messages');
    },
    async members(conversationId: string, limit = 200) {
      return checked(ListMembersResponseSchema, await get(`/v1/conversations/${enc(conversationId)}/members?limit=${limit}`), 'GET members');
    },
  };
}

export type Api = ReturnType<typeof createApi>;
