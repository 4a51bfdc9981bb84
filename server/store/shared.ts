// What both store adapters must agree on, in one place: the port's rules on a new conversation,
// the direct-pair key, keyset cursors, the seq ranges a reader's membership periods leave visible,
// the batch repeat key and the unread cap. Pure functions over the port's types; no database.
import type { Role } from '../../protocol/index.js';
import { InvalidArgumentStoreError, type NewConversation, type NewMessage, type Period } from './store.js';

/** Upper bound of `unread` in a conversation list, so one busy conversation stays cheap. */
export const UNREAD_CAP = 9_999;

// ---- conversations and members ----

type NewMember = { userId: string; role: Role };

/** Members deduplicated by userId, first occurrence wins. */
export function uniqueMembers(members: NewMember[]): NewMember[] {
  const seen = new Set<string>();
  return members.filter((m) => (seen.has(m.userId) ? false : (seen.add(m.userId), true)));
}

/** The key that makes a pair of users have at most one direct conversation, in either order. */
export function directPairKey(userIds: [string, string]): string {
  return JSON.stringify([...userIds].sort());
}

/**
 * Checks a new conversation against the port's rules (members include the creator; a direct
 * conversation has exactly two distinct members) and returns its unique members and, for a direct
 * one, the pair key. Throws InvalidArgumentStoreError.
 */
export function checkNewConversation(input: NewConversation): { members: NewMember[]; directKey?: string } {
  const members = uniqueMembers(input.members);
  if (!members.some((m) => m.userId === input.createdBy)) throw new InvalidArgumentStoreError('members: must include the creator');
  if (input.type !== 'direct') return { members };
  if (members.length !== 2) throw new InvalidArgumentStoreError('members: a direct conversation has exactly two members');
  return { members, directKey: directPairKey([members[0]!.userId, members[1]!.userId]) };
}

// ---- cursors ----

/** Encodes a keyset cursor; opaque to clients (base64url JSON). */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * Decodes an optional cursor made by `encodeCursor`: undefined when absent, the value when it
 * passes `check`, InvalidArgumentStoreError for anything else (the empty string included).
 */
export function parseCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidArgumentStoreError('cursor: malformed');
  }
  if (!check(value)) throw new InvalidArgumentStoreError('cursor: malformed');
  return value;
}

/** listMembers pages by userId; the cursor is the last userId of the page. */
export const membersCursor = {
  encode: (lastUserId: string): string => encodeCursor([lastUserId]),
  parse: (cursor: string | undefined): string | undefined =>
    parseCursor(cursor, (v): v is [string] => Array.isArray(v) && v.length === 1 && typeof v[0] === 'string')?.[0],
};

// ---- history ----

/** Seqs `gt < seq <= lte`; `lte` null means no upper bound. */
export interface SeqRange {
  gt: number;
  lte: number | null;
}

/**
 * The seq ranges a reader with these membership periods may see, clipped to a page's
 * `after < seq < before` (either optional), empty ones dropped, sorted and merged.
 */
export function visibleRanges(periods: Period[], page: { after?: number; before?: number } = {}): SeqRange[] {
  // Integers: seq < before is seq <= ceil(before) - 1.
  const top = page.before === undefined ? null : Math.ceil(page.before) - 1;
  const ranges = periods
    .map((p): SeqRange => {
      const gt = Math.max(p.afterSeq, page.after ?? p.afterSeq);
      const bounds = [p.untilSeq, top].filter((v): v is number => v !== null);
      return { gt, lte: bounds.length ? Math.min(...bounds) : null };
    })
    .filter((r) => r.lte === null || r.lte > r.gt)
    .sort((a, b) => a.gt - b.gt);
  const merged: SeqRange[] = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last && (last.lte === null || r.gt <= last.lte)) {
      last.lte = last.lte === null || r.lte === null ? null : Math.max(last.lte, r.lte);
    } else merged.push({ ...r });
  }
  return merged;
}

// ---- appends ----

/** The idempotency key of a message: `(conversationId, senderId, clientMsgId)`. */
export function clientKey(m: Pick<NewMessage, 'conversationId' | 'senderId' | 'clientMsgId'>): string {
  return JSON.stringify([m.conversationId, m.senderId, m.clientMsgId]);
}

/** For each idempotency key in a batch, the index of its first occurrence (later ones repeat it). */
export function firstOccurrences(inputs: NewMessage[]): Map<string, number> {
  const first = new Map<string, number>();
  inputs.forEach((m, i) => {
    if (!first.has(clientKey(m))) first.set(clientKey(m), i);
  });
  return first;
}
