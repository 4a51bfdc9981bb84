// The client's model of its conversations, free of DOM and sockets so it can be unit tested:
// messages de-duplicated by id and ordered by seq, optimistic sends keyed by clientMsgId,
// other members' receipt watermarks and the ticks they give to my messages, unread counts;
// changes to stored messages (edits, deletions, reactions: the newest `updatedSeq` wins) and the
// reactions this device made, which the counts alone do not tell.
import type { Conversation, ConversationListItem, ConversationUpdated, Message, Receipt, Role } from '../../protocol/index.js';

export type Tick = 'pending' | 'failed' | 'sent' | 'delivered' | 'read';

/** A message shown before the server acknowledged it. */
export interface PendingMessage {
  clientMsgId: string;
  conversationId: string;
  text: string;
  createdAt: string;
  status: 'pending' | 'failed';
  error?: string;
}

export type ThreadItem = { kind: 'message'; message: Message } | { kind: 'pending'; pending: PendingMessage };

interface Watermark {
  delivered: number;
  read: number;
  /** Epoch ms; 0 when unknown (seen only through a receipt). */
  joinedAt: number;
}

/** One conversation's messages and receipts as this device knows them. */
export class Thread {
  readonly messages = new Map<string, Message>();
  readonly pending = new Map<string, PendingMessage>();
  /** Other members' watermarks (never mine). */
  readonly others = new Map<string, Watermark>();
  /** Highest seq received from any source: `conversation:sync` starts after it. */
  highestSeq = 0;
  /** Cursor for the next older history page; undefined once the start is reached. */
  nextBefore: number | undefined;
  /** The newest history page has been fetched (live messages may arrive before). */
  historyLoaded = false;
  /** Emoji I hold per message id, as far as this device knows (the server sends counts only). */
  readonly myReactions = new Map<string, Set<string>>();

  constructor(
    readonly conversationId: string,
    readonly me: string,
  ) {}

  /** Merges messages from any source; returns those not seen before. */
  add(messages: Iterable<Message>): Message[] {
    const fresh: Message[] = [];
    for (const m of messages) {
      if (m.conversationId !== this.conversationId) continue;
      if (m.senderId === this.me) this.pending.delete(m.clientMsgId);
      // Sending moves the sender's watermarks up to its seq without a receipt event (§4), so a
      // reply is a read receipt for everything before it.
      else if (m.kind !== 'system') this.receipt({ conversationId: m.conversationId, userId: m.senderId, type: 'read', seq: m.seq });
      if (m.seq > this.highestSeq) this.highestSeq = m.seq;
      if (this.messages.has(m.id)) {
        this.update(m);
        continue;
      }
      this.messages.set(m.id, m);
      fresh.push(m);
    }
    return fresh;
  }

  /** The current state of a known message (edit, deletion, reactions); returns whether it was newer. */
  update(m: Message): boolean {
    const known = this.messages.get(m.id);
    if (!known || m.conversationId !== this.conversationId || !isNewer(m, known)) return false;
    this.messages.set(m.id, m);
    // An emoji nobody holds any more is not mine either (taken off on another device).
    const mine = this.myReactions.get(m.id);
    for (const emoji of mine ?? []) if (!m.reactions?.some((r) => r.emoji === emoji)) this.setReacted(m.id, emoji, false);
    return true;
  }

  hasReacted(messageId: string, emoji: string): boolean {
    return this.myReactions.get(messageId)?.has(emoji) ?? false;
  }

  setReacted(messageId: string, emoji: string, on: boolean): void {
    const mine = this.myReactions.get(messageId) ?? new Set<string>();
    if (on) mine.add(emoji);
    else mine.delete(emoji);
    if (mine.size) this.myReactions.set(messageId, mine);
    else this.myReactions.delete(messageId);
  }

  addPending(p: PendingMessage): void {
    this.pending.set(p.clientMsgId, p);
  }

  fail(clientMsgId: string, error: string): void {
    const p = this.pending.get(clientMsgId);
    if (p) this.pending.set(clientMsgId, { ...p, status: 'failed', error });
  }

  retrying(clientMsgId: string): PendingMessage | undefined {
    const p = this.pending.get(clientMsgId);
    if (!p) return undefined;
    const again: PendingMessage = { ...p, status: 'pending' };
    delete again.error;
    this.pending.set(clientMsgId, again);
    return again;
  }

  /** Members known from REST, with their watermarks (`read` hidden by privacy counts as 0). */
  setMembers(members: { userId: string; deliveredSeq: number; readSeq?: number; joinedAt: string }[]): void {
    for (const m of members) {
      if (m.userId === this.me) continue;
      const prev = this.others.get(m.userId);
      this.others.set(m.userId, {
        delivered: Math.max(prev?.delivered ?? 0, m.deliveredSeq),
        read: Math.max(prev?.read ?? 0, m.readSeq ?? 0),
        joinedAt: Date.parse(m.joinedAt) || 0,
      });
    }
  }

  memberJoined(userId: string, at = Date.now()): void {
    if (userId !== this.me && !this.others.has(userId)) this.others.set(userId, { delivered: 0, read: 0, joinedAt: at });
  }

  memberLeft(userId: string): void {
    this.others.delete(userId);
  }

  /** Applies a receipt; returns whether anything changed. Watermarks only move forward. */
  receipt(r: Receipt): boolean {
    if (r.userId === this.me || r.conversationId !== this.conversationId) return false;
    const w = this.others.get(r.userId) ?? { delivered: 0, read: 0, joinedAt: 0 };
    const before = `${w.delivered}/${w.read}`;
    if (r.type === 'delivered') w.delivered = Math.max(w.delivered, r.seq);
    // Reading implies having received.
    else w.read = Math.max(w.read, r.seq);
    w.delivered = Math.max(w.delivered, w.read);
    this.others.set(r.userId, w);
    return before !== `${w.delivered}/${w.read}`;
  }

  /**
   * Ticks of one of my messages: delivered/read once every other member who was there when it
   * was sent has that watermark at or past its seq. Channels only ever show "sent".
   */
  tick(m: Message, type: Conversation['type']): Tick {
    if (type === 'channel') return 'sent';
    const sentAt = Date.parse(m.createdAt) || 0;
    const relevant = [...this.others.values()].filter((w) => w.joinedAt <= sentAt);
    if (relevant.length === 0) return 'sent';
    if (relevant.every((w) => w.read >= m.seq)) return 'read';
    if (relevant.every((w) => w.delivered >= m.seq)) return 'delivered';
    return 'sent';
  }

  /** Messages in seq order, then pending sends in the order they were made. */
  items(): ThreadItem[] {
    const messages = [...this.messages.values()].sort((a, b) => a.seq - b.seq);
    const pending = [...this.pending.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    return [
      ...messages.map((message): ThreadItem => ({ kind: 'message', message })),
      ...pending.map((p): ThreadItem => ({ kind: 'pending', pending: p })),
    ];
  }

  /** Highest seq of a message from someone else (what reading the thread acknowledges). */
  highestFromOthers(): number {
    let max = 0;
    for (const m of this.messages.values()) if (m.senderId !== this.me && m.seq > max) max = m.seq;
    return max;
  }
}

/** A row of the conversation list. */
export interface Entry {
  conversation: Conversation;
  role: Role;
  unread: number;
  lastMessage?: Message;
  /** Highest seq I have read, as far as this device knows. */
  readSeq: number;
  /** `lastSeq` when the list was fetched: `unread` already counts messages up to it. */
  listedSeq: number;
  /** For direct conversations: the other member, once known. */
  peerId?: string;
}

export function entryFromListItem(item: ConversationListItem, previous?: Entry): Entry {
  const { role, unread, lastMessage, ...conversation } = item;
  return {
    conversation,
    role,
    unread,
    ...(lastMessage ? { lastMessage } : {}),
    readSeq: Math.max(previous?.readSeq ?? 0, unread === 0 ? conversation.lastSeq : 0),
    listedSeq: conversation.lastSeq,
    ...(previous?.peerId ? { peerId: previous.peerId } : {}),
  };
}

/**
 * Updates a list entry for a message that arrived (call once per message); returns whether it
 * counts as unread: someone else's visible message past my read watermark, in a conversation I
 * am not reading, and not already in the list's count (the list may be fetched after the
 * message was stored but before its live event arrives).
 */
export function noteMessage(entry: Entry, m: Message, me: string, reading: boolean): boolean {
  if (m.seq > entry.conversation.lastSeq) entry.conversation = { ...entry.conversation, lastSeq: m.seq };
  if (!entry.lastMessage || m.seq > entry.lastMessage.seq) entry.lastMessage = m;
  if (reading || m.senderId === me || m.kind === 'system' || m.seq <= entry.readSeq || m.seq <= entry.listedSeq) return false;
  entry.unread += 1;
  return true;
}

/** Whether `m` is a later state of the same message than `than` (PROTOCOL.md §9: keep the highest `updatedSeq`). */
export function isNewer(m: Message, than: Message): boolean {
  return (m.updatedSeq ?? 0) > (than.updatedSeq ?? 0);
}

/** A change to a message: the list's preview follows when it is the last message. */
export function noteUpdate(entry: Entry, m: Message): boolean {
  if (entry.lastMessage?.id !== m.id || !isNewer(m, entry.lastMessage)) return false;
  entry.lastMessage = m;
  return true;
}

export function markRead(entry: Entry, seq: number): void {
  entry.readSeq = Math.max(entry.readSeq, seq);
  entry.unread = 0;
}

/** A conversation just learnt of from an event, until the list refresh brings role and unread. */
export function provisionalEntry(conversation: Conversation, me: string, userIds?: string[]): Entry {
  const peerId = conversation.type === 'direct' ? userIds?.find((u) => u !== me) : undefined;
  return {
    conversation,
    role: conversation.createdBy === me && conversation.type !== 'direct' ? 'owner' : 'member',
    unread: 0,
    readSeq: 0,
    listedSeq: 0,
    ...(peerId ? { peerId } : {}),
  };
}

/**
 * Applies `conversation:updated` to the list and the thread's member set. `removed`: I left or
 * was removed; `added`: new to me; `role`: my role changed. Both of the latter want a list refresh.
 */
export function applyConversationUpdate(
  entries: Map<string, Entry>,
  threads: Map<string, Thread>,
  { conversation, change }: ConversationUpdated,
  me: string,
): 'removed' | 'added' | 'role' | 'updated' {
  const affectsMe = change?.userIds.includes(me) ?? false;
  if (affectsMe && (change?.action === 'left' || change?.action === 'removed')) {
    entries.delete(conversation.id);
    threads.delete(conversation.id);
    return 'removed';
  }
  const thread = threads.get(conversation.id);
  if (thread && change) {
    if (change.action === 'joined' || change.action === 'added') for (const u of change.userIds) thread.memberJoined(u);
    if (change.action === 'left' || change.action === 'removed') for (const u of change.userIds) thread.memberLeft(u);
  }
  const entry = entries.get(conversation.id);
  if (!entry) {
    entries.set(conversation.id, provisionalEntry(conversation, me, change?.userIds));
    return 'added';
  }
  entry.conversation = { ...conversation, lastSeq: Math.max(conversation.lastSeq, entry.conversation.lastSeq) };
  return affectsMe && change?.action === 'role' ? 'role' : 'updated';
}

/** Most recently active first. */
export function sortEntries(entries: Iterable<Entry>): Entry[] {
  const at = (e: Entry) => Date.parse(e.lastMessage?.createdAt ?? e.conversation.createdAt) || 0;
  return [...entries].sort((a, b) => at(b) - at(a) || b.conversation.lastSeq - a.conversation.lastSeq);
}

/** Display name of a conversation. */
export function titleOf(entry: Entry): string {
  const c = entry.conversation;
  if (c.title) return c.title;
  if (c.type === 'direct') return entry.peerId ?? 'Direct chat';
  return `Untitled ${c.type}`;
}

/** One line describing a message, for previews and system rows. */
export function describe(m: Message, me: string): string {
  if (m.deletedAt) return 'message deleted';
  if (m.kind === 'text') return m.text ?? '';
  if (m.kind === 'file') return `📎 ${m.attachment?.name ?? 'file'}`;
  const s = m.system;
  if (!s) return 'system message';
  const who = (id: string) => (id === me ? 'you' : id);
  const actor = who(s.actorId);
  const users = (s.userIds ?? []).map(who).join(', ');
  switch (s.action) {
    case 'created':
      return users ? `${actor} started the conversation with ${users}` : `${actor} created the conversation`;
    case 'joined':
      return `${actor} joined`;
    case 'left':
      return `${actor} left`;
    case 'added':
      return `${actor} added ${users}`;
    case 'removed':
      return `${actor} removed ${users}`;
    case 'role':
      return `${actor} made ${users} ${s.role ?? 'member'}`;
  }
}

/** Whether my role lets me post (channels: owners, admins and moderators only). */
export function canPost(entry: Entry): boolean {
  return entry.conversation.type !== 'channel' || entry.role !== 'member';
}
