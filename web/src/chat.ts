// The signed-in screen: wires the socket and REST to the state and the views. Every server
// event goes through the protocol's schema first; every string reaches the page as text.
import {
  ConversationUpdatedSchema,
  MessageNewSchema,
  MessageTextSchema,
  ReceiptSchema,
  TypingEventSchema,
  type Message,
} from '../../protocol/index.js';
import { checked, createApi } from './api.js';
import { Thread, applyConversationUpdate, entryFromListItem, markRead, noteMessage, provisionalEntry, type Entry } from './chat-state.js';
import { CallError, createConnection, type ConnectionState } from './connection.js';
import { bindConversationForms } from './conversation-forms.js';
import { byId, show } from './dom.js';
import { renderConversationList } from './list.view.js';
import type { TokenSource } from './session.js';
import { Outbox } from './outbox.js';
import { ThreadView, renderThreadHeader } from './thread.view.js';
import { TypingIndicator, TypingSender } from './typing.js';
import { WatermarkReporter } from './watermarks.js';

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  online: 'online',
  syncing: 'syncing…',
  offline: 'offline',
  ended: 'signed out',
};

export function startChat(tokens: TokenSource, onSignedOut: (reason: string) => void): { stop(): void } {
  const me = tokens.userId;
  const api = createApi(tokens);
  const entries = new Map<string, Entry>();
  const threads = new Map<string, Thread>();
  let openId: string | undefined;

  const el = {
    conn: byId('conn'),
    list: byId('conversations'),
    sideError: byId('side-error'),
    empty: byId('thread-empty'),
    view: byId('thread-view'),
    title: byId('thread-title'),
    meta: byId('thread-meta'),
    id: byId('thread-id'),
    older: byId<HTMLButtonElement>('older'),
    typing: byId('typing'),
    composer: byId<HTMLFormElement>('composer'),
    text: byId<HTMLTextAreaElement>('composer-text'),
    send: byId<HTMLButtonElement>('composer-send'),
    composerError: byId('composer-error'),
  };

  const conn = createConnection({
    tokens,
    onState(state, detail) {
      el.conn.dataset.state = state;
      el.conn.textContent = detail && state !== 'online' ? `${STATE_TEXT[state]} — ${detail}` : STATE_TEXT[state];
    },
    onConnected: (resumed) => (resumed ? resume() : loadList()),
    onSessionEnded: onSignedOut,
  });
  const threadView = new ThreadView(byId('messages'), byId('messages-scroll'), me, (clientMsgId) => {
    const thread = openId ? threads.get(openId) : undefined;
    if (thread) outbox.retry(thread, clientMsgId);
    renderThread();
  });
  const outbox = new Outbox(
    conn,
    (message) => received([message]),
    (thread) => thread.conversationId === openId && renderThread(),
  );
  const reporter = new WatermarkReporter((type, conversationId, seq) =>
    conn.call(type === 'read' ? 'message:read' : 'message:delivered', { conversationId, seq }).then(() => undefined),
  );
  const typingOut = new TypingSender((conversationId, typing) => void conn.call('typing', { conversationId, typing }).catch(() => {}));
  const typingIn = new TypingIndicator(me, () => renderTyping());

  const reading = (id: string) => id === openId && document.visibilityState === 'visible';
  const threadOf = (id: string) => threads.get(id) ?? threads.set(id, new Thread(id, me)).get(id)!;
  const fail = (target: HTMLElement, err: unknown) => {
    target.textContent = err instanceof Error ? err.message : String(err);
  };

  // ------------------------------------------------------------------ rendering

  function renderList(): void {
    renderConversationList(el.list, entries.values(), { me, openId, onOpen: (id) => void open(id) });
  }

  function renderThread(mode?: 'follow' | 'bottom' | 'keep'): void {
    const entry = openId ? entries.get(openId) : undefined;
    show(el.empty, !entry);
    show(el.view, Boolean(entry));
    if (!entry) return;
    const thread = threadOf(entry.conversation.id);
    renderThreadHeader(el, entry, thread);
    threadView.render(thread, entry.conversation.type, mode);
    renderTyping();
  }

  function renderTyping(): void {
    const names = openId ? typingIn.who(openId) : [];
    el.typing.textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
  }

  // ------------------------------------------------------------------ loading

  async function loadList(): Promise<void> {
    const { conversations } = await api.conversations();
    const seen = new Set<string>();
    for (const item of conversations) {
      seen.add(item.id);
      const entry = entryFromListItem(item, entries.get(item.id));
      if (reading(item.id)) markRead(entry, item.lastSeq);
      entries.set(item.id, entry);
      // The list delivered the last message to this device.
      if (item.lastMessage && item.lastMessage.senderId !== me) reporter.delivered(item.id, item.lastMessage.seq);
    }
    for (const id of [...entries.keys()]) if (!seen.has(id)) entries.delete(id);
    if (openId && !entries.has(openId)) openId = undefined;
    renderList();
    renderThread();
    void findPeers();
  }

  /** Names direct conversations after the other member. */
  async function findPeers(): Promise<void> {
    const unnamed = [...entries.values()].filter((e) => e.conversation.type === 'direct' && !e.peerId).slice(0, 50);
    await Promise.all(
      unnamed.map(async (entry) => {
        const { members } = await api.members(entry.conversation.id).catch(() => ({ members: [] }));
        const peer = members.find((m) => m.userId !== me);
        if (peer) entry.peerId = peer.userId;
      }),
    );
    if (unnamed.length) {
      renderList();
      renderThread();
    }
  }

  let listTimer: ReturnType<typeof setTimeout> | undefined;
  function refreshListSoon(): void {
    clearTimeout(listTimer);
    listTimer = setTimeout(() => void loadList().catch((err: unknown) => fail(el.sideError, err)), 200);
  }

  async function open(id: string): Promise<void> {
    if (openId !== id) typingOut.stop();
    openId = id;
    el.composerError.textContent = '';
    const thread = threadOf(id);
    renderList();
    renderThread('bottom');
    try {
      if (!thread.historyLoaded) {
        const page = await api.history(id);
        thread.add(page.messages);
        thread.nextBefore = page.nextBefore;
        thread.historyLoaded = true;
        const entry = entries.get(id);
        if (entry && entry.conversation.type !== 'channel') thread.setMembers((await api.members(id)).members);
      }
      markThreadRead(id);
      if (openId === id) renderThread('bottom');
    } catch (err) {
      fail(el.composerError, err);
    }
  }

  async function loadOlder(): Promise<void> {
    if (!openId) return;
    const thread = threadOf(openId);
    if (thread.nextBefore === undefined) return;
    el.older.disabled = true;
    try {
      const page = await api.history(thread.conversationId, thread.nextBefore);
      thread.add(page.messages);
      thread.nextBefore = page.nextBefore;
      if (openId === thread.conversationId) renderThread('keep');
    } catch (err) {
      fail(el.composerError, err);
    } finally {
      el.older.disabled = false;
    }
  }

  function markThreadRead(id: string): void {
    const entry = entries.get(id);
    const thread = threads.get(id);
    if (!entry || !thread || !reading(id)) return;
    const seq = Math.max(thread.highestSeq, entry.conversation.lastSeq);
    if (seq > 0) {
      reporter.delivered(id, seq);
      reporter.read(id, seq);
    }
    if (entry.unread > 0) {
      markRead(entry, seq);
      renderList();
    } else entry.readSeq = Math.max(entry.readSeq, seq);
  }

  /** After a drop: catch up every loaded thread from its highest seq, resend, then refresh the list. */
  async function resume(): Promise<void> {
    for (const thread of threads.values()) {
      if (!thread.historyLoaded) continue;
      try {
        for (let page = 0; page < 20; page++) {
          const res = await conn.call('conversation:sync', { conversationId: thread.conversationId, afterSeq: thread.highestSeq, limit: 200 });
          received(res.messages);
          if (!res.hasMore) break;
        }
      } catch (err) {
        if (err instanceof CallError && (err.wire.code === 'NOT_FOUND' || err.wire.code === 'FORBIDDEN')) threads.delete(thread.conversationId);
        else throw err;
      }
    }
    await loadList();
    outbox.resendAll(threads.values());
    reporter.flush();
  }

  // ------------------------------------------------------------------ incoming

  function received(messages: Message[]): void {
    let unknown = false;
    for (const m of messages) {
      const entry = entries.get(m.conversationId);
      const fresh = threadOf(m.conversationId).add([m]);
      if (!entry) {
        unknown = true;
        continue;
      }
      if (fresh.length === 0) continue;
      noteMessage(entry, m, me, reading(m.conversationId));
      if (m.senderId !== me) reporter.delivered(m.conversationId, m.seq);
    }
    if (unknown) refreshListSoon();
    if (openId && messages.some((m) => m.conversationId === openId)) {
      markThreadRead(openId);
      renderThread();
    }
    renderList();
  }

  conn.socket.on('message:new', (data) => received([checked(MessageNewSchema, data, 'message:new').message]));

  conn.socket.on('receipt', (data) => {
    const r = checked(ReceiptSchema, data, 'receipt');
    const entry = entries.get(r.conversationId);
    if (r.userId === me) {
      // Read on another of my devices.
      if (entry && r.type === 'read' && r.seq >= entry.conversation.lastSeq && entry.unread > 0) {
        markRead(entry, r.seq);
        renderList();
      }
      return;
    }
    if (threads.get(r.conversationId)?.receipt(r) && r.conversationId === openId) renderThread();
  });

  conn.socket.on('typing', (data) => typingIn.apply(checked(TypingEventSchema, data, 'typing')));

  conn.socket.on('conversation:updated', (data) => {
    const update = checked(ConversationUpdatedSchema, data, 'conversation:updated');
    const result = applyConversationUpdate(entries, threads, update, me);
    if (result === 'removed' && openId === update.conversation.id) openId = undefined;
    // New to me, or my role changed: role and unread come from the list.
    if (result === 'added' || result === 'role') refreshListSoon();
    renderList();
    if (!openId || openId === update.conversation.id) renderThread();
  });

  // ------------------------------------------------------------------ sending and forms

  function send(): void {
    const entry = openId ? entries.get(openId) : undefined;
    if (!entry) return;
    const parsed = MessageTextSchema.safeParse(el.text.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]?.message ?? 'is invalid';
      el.composerError.textContent = issue === 'must not be empty' ? '' : `Message ${issue}`;
      return;
    }
    el.composerError.textContent = '';
    el.text.value = '';
    typingOut.stop();
    outbox.send(threadOf(entry.conversation.id), parsed.data);
    renderThread('bottom');
  }

  bindConversationForms(
    {
      async createDirect(peerId) {
        const { conversation } = await conn.call('conversation:create', { type: 'direct', peerId });
        entries.set(conversation.id, { ...(entries.get(conversation.id) ?? provisionalEntry(conversation, me)), peerId });
        await open(conversation.id);
      },
      async createGroup({ memberIds, ...rest }) {
        const { conversation } = await conn.call('conversation:create', { ...rest, ...(memberIds.length ? { memberIds } : {}) });
        if (!entries.has(conversation.id)) entries.set(conversation.id, provisionalEntry(conversation, me));
        await open(conversation.id);
      },
      async join(conversationId) {
        const { conversation, membership } = await conn.call('conversation:join', { conversationId });
        entries.set(conversation.id, { ...provisionalEntry(conversation, me), role: membership.role });
        await open(conversation.id);
      },
    },
    { clear: () => (el.sideError.textContent = ''), show: (err) => fail(el.sideError, err) },
  );

  el.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  el.text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  el.text.addEventListener('input', () => {
    if (!openId) return;
    if (el.text.value.trim()) typingOut.typing(openId);
    else typingOut.stop();
  });
  el.older.addEventListener('click', () => void loadOlder());
  const onVisible = () => openId && markThreadRead(openId);
  document.addEventListener('visibilitychange', onVisible);

  conn.start();
  return {
    stop() {
      document.removeEventListener('visibilitychange', onVisible);
      typingOut.stop();
      typingIn.clear();
      reporter.stop();
      conn.stop();
    },
  };
}
