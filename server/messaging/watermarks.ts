// Group commit for receipt watermarks: updates that arrive while a write is in flight are
// merged (highest seq per member and type) and written together by the next one, so a burst
// of receipts costs a few statements instead of one each. Under a steady stream a write is cut
// at most once per `lingerMs` (a receipt that finds the batcher quiet for that long goes at once):
// each write is a commit, and at a few hundred receipts a second the commits, not the rows, are
// what PostgreSQL spends its time on.
import type { Store, WatermarkUpdate } from '../store/store.js';

interface Pending {
  update: WatermarkUpdate;
  waiters: { resolve: (stored: number | false) => void; reject: (err: unknown) => void }[];
}

const SETTINGS_TTL_MS = 5_000; // privacy changes reach other nodes within this

export function createWatermarkBatcher(store: Store, opts: { maxBatch?: number; lingerMs?: number } = {}) {
  const maxBatch = opts.maxBatch ?? 500;
  const lingerMs = opts.lingerMs ?? 0;
  let pending = new Map<string, Pending>();
  let flushing: Promise<void> | null = null;
  let lastCut = Number.NEGATIVE_INFINITY;
  const settings = new Map<string, { on: boolean; at: number }>();

  async function flushLoop(): Promise<void> {
    while (pending.size > 0) {
      const wait = lastCut + lingerMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      lastCut = performance.now();
      const batch = [...pending.values()].slice(0, maxBatch);
      for (const p of batch) pending.delete(keyOf(p.update));
      try {
        const moved = await store.advanceWatermarks(batch.map((p) => p.update));
        batch.forEach((p, i) => p.waiters.forEach((w) => w.resolve(moved[i] ?? false)));
      } catch (err) {
        batch.forEach((p) => p.waiters.forEach((w) => w.reject(err)));
      }
    }
  }

  function keyOf(u: WatermarkUpdate): string {
    return `${u.conversationId}\u0000${u.userId}\u0000${u.type}`;
  }

  /**
   * Resolves, per update, the value stored when the watermark moved (capped at the
   * conversation's lastSeq, so never the client's number beyond it), else `false`.
   */
  function advance(updates: WatermarkUpdate[]): Promise<(number | false)[]> {
    const promises = updates.map(
      (update) =>
        new Promise<number | false>((resolve, reject) => {
          const key = keyOf(update);
          const existing = pending.get(key);
          if (existing) {
            if (update.seq > existing.update.seq) existing.update = update;
            existing.waiters.push({ resolve, reject });
          } else {
            pending.set(key, { update, waiters: [{ resolve, reject }] });
          }
        }),
    );
    flushing ??= flushLoop().finally(() => {
      flushing = null;
    });
    return Promise.all(promises);
  }

  async function readReceiptsOn(userId: string): Promise<boolean> {
    const hit = settings.get(userId);
    if (hit && Date.now() - hit.at < SETTINGS_TTL_MS) return hit.on;
    const on = await store.getReadReceipts(userId);
    if (settings.size > 100_000) settings.clear();
    settings.set(userId, { on, at: Date.now() });
    return on;
  }

  return {
    advance,
    readReceiptsOn,
    forgetSettings: (userId: string) => void settings.delete(userId),
    /** Resolves when nothing is pending (shutdown). */
    drain: async () => {
      while (flushing) await flushing;
    },
  };
}

export type WatermarkBatcher = ReturnType<typeof createWatermarkBatcher>;
