// The end-of-run check against history, as clients would do it with `conversation:sync`:
// 1. every member that missed an acked message live syncs from just below the lowest missed
//    seq — what it recovers is late, not lost; what it still lacks is lost;
// 2. the owner of each conversation pages through the whole history: every clientMsgId of the
//    run must appear exactly once (stored duplicates) and every acked one at least once.
import type { SimUser } from './sim-user.js';
import type { ConvInfo, Tracker } from './tracker.js';
import { pool } from './util.js';

export interface VerifyResult {
  /** Member syncs done to recover messages missed live. */
  recoverySyncs: number;
  /** History pages read found at least one message of this run (a relay keeps no history). */
  storageChecked: boolean;
  conversationsChecked: number;
  messagesInHistory: number;
  /** clientMsgIds of this run stored more than once. */
  storedDuplicates: number;
  /** Acked sends absent from history. */
  missingAcked: number;
  failedSyncs: number;
}

const CONCURRENCY = 16;

export async function verifyRun(
  users: SimUser[],
  convs: ConvInfo[],
  tracker: Tracker,
  onProgress?: (done: number, total: number) => void,
): Promise<VerifyResult> {
  let failedSyncs = 0;
  const recovery: { user: SimUser; conv: ConvInfo; after: number }[] = [];
  for (const [user, byConv] of tracker.gaps()) {
    for (const { conv, minSeq } of byConv.values()) recovery.push({ user: users[user]!, conv, after: Math.max(0, minSeq - 1) });
  }
  const total = recovery.length + convs.length;
  let done = 0;
  await pool(recovery, CONCURRENCY, async ({ user, conv, after }) => {
    if (!(await user.syncConversation(conv.id, after))) failedSyncs++;
    onProgress?.(++done, total);
  });

  const counts = new Map<string, number>();
  let messagesInHistory = 0;
  await pool(convs, CONCURRENCY, async (conv) => {
    const owner = users[conv.creator]!;
    const ok = await owner.syncConversation(conv.id, 0, (page) => {
      for (const m of page) {
        messagesInHistory++;
        if (tracker.isOurs(m.clientMsgId)) counts.set(m.clientMsgId, (counts.get(m.clientMsgId) ?? 0) + 1);
      }
    });
    if (!ok) failedSyncs++;
    onProgress?.(++done, total);
  });

  let storedDuplicates = 0;
  for (const n of counts.values()) if (n > 1) storedDuplicates += n - 1;
  let missingAcked = 0;
  let acked = 0;
  for (const rec of tracker.records.values()) {
    if (!rec.acked) continue;
    acked++;
    if (!counts.has(rec.clientMsgId)) missingAcked++;
  }
  const storageChecked = acked === 0 || counts.size > 0;
  return {
    recoverySyncs: recovery.length,
    storageChecked,
    conversationsChecked: convs.length,
    messagesInHistory,
    storedDuplicates,
    missingAcked: storageChecked ? missingAcked : 0,
    failedSyncs,
  };
}
