// Bookkeeping of every send of the run: which members of its conversation have received it
// (one bit per member, so a 1,000-member channel costs 125 bytes per message), duplicates,
// and what is still outstanding. Keyed by clientMsgId because a live `message:new` may arrive
// before the sender's ack.
import type { Message } from '../protocol/index.js';
import { newHistogram, type Histogram, type Stats } from './stats.js';

export type ConversationKind = 'direct' | 'group' | 'channel';

export interface ConvInfo {
  id: string;
  kind: ConversationKind;
  /** User indices of the members. */
  members: number[];
  /** User index → position in `members` (the bit of that member). */
  pos: Map<number, number>;
  /** The creator (owner): can always post and see the whole history. */
  creator: number;
  /** Members allowed to post (everyone, except in a channel). */
  posters: number[];
}

export interface SendRecord {
  conv: ConvInfo;
  sender: number;
  clientMsgId: string;
  /** performance.now() of the first attempt. */
  sentAt: number;
  step: number;
  acked: boolean;
  id?: string;
  seq?: number;
  /** Delivery bits by member position. */
  seen: Uint8Array;
  seenCount: number;
}

export interface StepTally {
  ack: Histogram;
  deliver: Histogram;
  attempted: number;
  acked: number;
  /** Acked (message, member) pairs and how many of them were delivered live. */
  expectedPairs: number;
  deliveredPairs: number;
}

export class Tracker {
  readonly records = new Map<string, SendRecord>();
  /** Per ramp step (steady runs use step 0; a ramp's warm-up uses −1). */
  readonly steps = new Map<number, StepTally>();
  /** Messages of this run seen with an id other than the one first seen for their clientMsgId. */
  storageDuplicatesLive = 0;
  /** Acked (message, member) pairs not delivered yet. */
  private pendingPairs = 0;
  private readonly prefix: string;

  constructor(
    runId: string,
    private readonly stats: Stats,
  ) {
    this.prefix = `${runId}-`;
  }

  isOurs(clientMsgId: string): boolean {
    return clientMsgId.startsWith(this.prefix);
  }

  step(i: number): StepTally {
    let tally = this.steps.get(i);
    if (!tally) {
      tally = { ack: newHistogram(), deliver: newHistogram(), attempted: 0, acked: 0, expectedPairs: 0, deliveredPairs: 0 };
      this.steps.set(i, tally);
    }
    return tally;
  }

  register(conv: ConvInfo, sender: number, clientMsgId: string, step: number, now: number): SendRecord {
    const rec: SendRecord = {
      conv,
      sender,
      clientMsgId,
      sentAt: now,
      step,
      acked: false,
      seen: new Uint8Array(Math.ceil(conv.members.length / 8)),
      seenCount: 0,
    };
    this.records.set(clientMsgId, rec);
    this.step(step).attempted++;
    return rec;
  }

  onAck(rec: SendRecord, message: Message, now: number): void {
    if (rec.acked) return;
    rec.acked = true;
    this.noteId(rec, message);
    rec.seq = message.seq;
    const tally = this.step(rec.step);
    tally.acked++;
    tally.expectedPairs += rec.conv.members.length;
    tally.deliveredPairs += rec.seenCount;
    this.pendingPairs += rec.conv.members.length - rec.seenCount;
    this.stats.onAck(now - rec.sentAt, tally.ack);
  }

  private noteId(rec: SendRecord, message: Message): void {
    if (rec.id === undefined) rec.id = message.id;
    else if (rec.id !== message.id) this.storageDuplicatesLive++;
  }

  /**
   * A `message:new` (via 'live') or a sync result (via 'sync') reached user `user`.
   * Returns false when it was not one of this run's messages.
   */
  onMessage(user: number, message: Message, via: 'live' | 'sync', now: number): boolean {
    if (!this.isOurs(message.clientMsgId)) return false;
    const rec = this.records.get(message.clientMsgId);
    if (!rec) return false;
    const p = rec.conv.pos.get(user);
    if (p === undefined) return true;
    this.noteId(rec, message);
    const byte = p >> 3;
    const bit = 1 << (p & 7);
    if (rec.seen[byte]! & bit) {
      if (via === 'live') this.stats.duplicateDeliveries++;
      return true;
    }
    rec.seen[byte]! |= bit;
    rec.seenCount++;
    if (rec.acked) this.pendingPairs--;
    if (via === 'sync') {
      this.stats.syncRecovered++;
      return true;
    }
    const tally = this.step(rec.step);
    if (rec.acked) tally.deliveredPairs++;
    // The sender's own echo is a delivery but not a send→deliver latency.
    this.stats.onDelivery(user === rec.sender ? undefined : now - rec.sentAt, user === rec.sender ? undefined : tally.deliver);
    return true;
  }

  /** Acked (message, member) pairs still undelivered. */
  outstandingPairs(): number {
    return this.pendingPairs;
  }

  /** For each (user, conversation) with missing acked messages: the lowest missing seq. */
  gaps(): Map<number, Map<string, { conv: ConvInfo; minSeq: number }>> {
    const out = new Map<number, Map<string, { conv: ConvInfo; minSeq: number }>>();
    for (const rec of this.records.values()) {
      if (!rec.acked || rec.seenCount === rec.conv.members.length) continue;
      rec.conv.members.forEach((user, p) => {
        if (rec.seen[p >> 3]! & (1 << (p & 7))) return;
        let byConv = out.get(user);
        if (!byConv) out.set(user, (byConv = new Map()));
        const g = byConv.get(rec.conv.id);
        const seq = rec.seq ?? 0;
        if (!g) byConv.set(rec.conv.id, { conv: rec.conv, minSeq: seq });
        else g.minSeq = Math.min(g.minSeq, seq);
      });
    }
    return out;
  }

  /** Totals over acked messages: expected pairs, delivered pairs, messages with a missing member. */
  totals(): { acked: number; expectedPairs: number; deliveredPairs: number; incompleteMessages: number } {
    let acked = 0;
    let expectedPairs = 0;
    let deliveredPairs = 0;
    let incompleteMessages = 0;
    for (const rec of this.records.values()) {
      if (!rec.acked) continue;
      acked++;
      expectedPairs += rec.conv.members.length;
      deliveredPairs += rec.seenCount;
      if (rec.seenCount < rec.conv.members.length) incompleteMessages++;
    }
    return { acked, expectedPairs, deliveredPairs, incompleteMessages };
  }
}
