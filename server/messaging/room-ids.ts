// The conversations a socket joins at connect, most recently active first, cached per user for
// a short time: a client that drops and comes back (a flaky network, a balancer sending it back
// to the same node) costs no store read, and parallel handshakes of one user share one read.
//
// Correctness rests on invalidation, as in access-cache.ts: every membership change anywhere
// in the cluster is confirmed by every node (Realtime.membershipChanged) and drops the WHOLE
// cache here, because a change can add a user whom no cached entry names; a read that was in
// flight while one happened is not cached. Membership changes are rare next to connects. The
// TTL only bounds how long a node cut off from Redis can be wrong.
import { createCoalescer, SOCKET_RESUME_CHUNK } from '../coalesce.js';
import type { Store } from '../store/store.js';

export interface RoomIdsCacheOptions {
  ttlMs?: number;
  /** Users kept at most; the oldest go first. */
  maxEntries?: number;
}

const TTL_MS = 10_000;
const MAX_ENTRIES = 50_000;

export function createRoomIdsCache(store: Store, opts: RoomIdsCacheOptions = {}) {
  const ttlMs = opts.ttlMs ?? TTL_MS;
  const maxEntries = opts.maxEntries ?? MAX_ENTRIES;
  const entries = new Map<string, { ids: readonly string[]; limit: number; at: number }>();
  const reading = new Map<string, { limit: number; ids: Promise<readonly string[]> }>();
  let epoch = 0;
  // Reads asked for while one is on its way leave together as one query: a reconnect storm's
  // handshakes then cost one store round trip per batch, not one each.
  const batch = createCoalescer(
    async (items: { userId: string; limit: number }[]): Promise<string[][]> => {
      const limit = items[0]!.limit;
      if (items.every((i) => i.limit === limit)) return store.listConversationIdsOfUsers(items.map((i) => i.userId), limit);
      return Promise.all(items.map((i) => store.listConversationIds(i.userId, i.limit)));
    },
    { maxBatch: 200, maxInFlight: 2, resumeChunk: SOCKET_RESUME_CHUNK },
  );

  async function read(userId: string, limit: number): Promise<readonly string[]> {
    const started = epoch;
    const ids = await batch.submit({ userId, limit });
    if (epoch === started) {
      if (entries.size >= maxEntries) for (const old of entries.keys()) if (entries.delete(old) && entries.size < maxEntries * 0.9) break;
      entries.delete(userId); // re-inserted last: the Map's order is the age order
      entries.set(userId, { ids, limit, at: Date.now() });
    }
    return ids;
  }

  return {
    /** The user's `limit` most recently active conversation ids (shared, do not mutate). */
    of(userId: string, limit: number): Promise<readonly string[]> {
      const hit = entries.get(userId);
      if (hit && hit.limit === limit && Date.now() - hit.at < ttlMs) return Promise.resolve(hit.ids);
      const inFlight = reading.get(userId);
      if (inFlight && inFlight.limit === limit) return inFlight.ids;
      const ids = read(userId, limit).finally(() => {
        if (reading.get(userId)?.ids === ids) reading.delete(userId);
      });
      reading.set(userId, { limit, ids });
      return ids;
    },
    /** A membership changed somewhere: nothing cached may be trusted. */
    forgetAll(): void {
      epoch++;
      entries.clear();
      reading.clear();
    },
    size: () => entries.size,
  };
}

export type RoomIdsCache = ReturnType<typeof createRoomIdsCache>;
