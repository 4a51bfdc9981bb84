// Typed REST helpers (fetch-based) for what the socket does not serve: the conversation list
// with unread counts, one conversation, members and history pages. Same token; a 401 asks the
// provider for a new one and tries once more.
import type { z } from 'zod';
import type {
  ErrorBody,
  GetConversationResponseSchema,
  HistoryResponse,
  ListConversationsResponse,
  ListMembersResponseSchema,
} from '../../protocol/index.js';
import { ClientError } from './errors.js';

export type GetConversationResponse = z.infer<typeof GetConversationResponseSchema>;
export type ListMembersResponse = z.infer<typeof ListMembersResponseSchema>;

export interface RestOptions {
  /** Gateway URL; '' for the page's origin. */
  baseUrl: string;
  token(refresh: boolean): Promise<string>;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

export function createRest(opts: RestOptions) {
  const doFetch = opts.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));

  async function get<T>(path: string, query: Query = {}, refreshed = false): Promise<T> {
    const qs = Object.entries(query)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    let res: Response;
    try {
      // `cache` is a browser option (Node's RequestInit types lack it; undici accepts it).
      const init = { headers: { Accept: 'application/json', Authorization: `Bearer ${await opts.token(refreshed)}` }, cache: 'no-store' } as RequestInit;
      res = await doFetch(`${opts.baseUrl}/v1${path}${qs ? `?${qs}` : ''}`, init);
    } catch {
      throw new ClientError({ code: 'UNAVAILABLE', message: 'the server cannot be reached' }, 0);
    }
    if (res.status === 401 && !refreshed) return get<T>(path, query, true);
    const body = (await res.json().catch(() => undefined)) as T | ErrorBody | undefined;
    if (res.ok) return body as T;
    const error = (body as ErrorBody | undefined)?.error;
    throw new ClientError(error?.code ? error : { code: res.status === 404 ? 'NOT_FOUND' : 'INTERNAL', message: `HTTP ${res.status}` }, res.status);
  }

  const conv = (id: string) => `/conversations/${encodeURIComponent(id)}`;
  return {
    /** `GET /v1/conversations`: newest activity first, with unread counts. */
    conversations: (q: { limit?: number; cursor?: string } = {}) => get<ListConversationsResponse>('/conversations', q),
    conversation: (id: string) => get<GetConversationResponse>(conv(id)),
    members: (id: string, q: { limit?: number; cursor?: string } = {}) => get<ListMembersResponse>(`${conv(id)}/members`, q),
    /** `GET /v1/conversations/:id/messages`: a page before or after a seq (newest page when neither). */
    history: (id: string, q: { before?: number; after?: number; limit?: number } = {}) => get<HistoryResponse>(`${conv(id)}/messages`, q),
  };
}

export type RestApi = ReturnType<typeof createRest>;
