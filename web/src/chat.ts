// The signed-in screen: wires the client library (client/: the connection, per-conversation
// streams, the outbox, receipts) and REST to the state and the views. Every server event the page
// reads itself goes through the protocol's schema first; every string reaches the page as text.
import {
  ConversationUpdatedSchema,
  MessageNewSchema,
  MessageTextSchema,
  MessageUpdatedSchema,
  PresenceSchema,
  ReceiptSchema,
  TypingEventSchema,
  type Message,
} from '../../protocol/index.js';
import { createClient, localStorageOutbox, type PendingSend, type Subscription } from '../../client/src/index.js';
import { checked, createApi } from './api.js';
import { Thread, applyConversationUpdate, entryFromListItem, markRead, noteMessage, noteUpdate, provisionalEntry, type Entry } from './chat-state.js';
import { bindConversationForms } from './conversation-forms.js';
import { byId, show } from './dom.js';
import { renderConversationList } from './list.view.js';
import { createMessageActions } from './message-actions.js';
import { PresenceWatcher } from './presence.js';
import { SessionEnded, type TokenSource } from './session.js';
import { ThreadView, renderThreadHeader } from './thread.view.js';
import { TypingIndicator, TypingSender } from './typing.js';

/** The library's states, plus `syncing` (back after a drop, the list not refreshed yet) and `ended` (sign in again). */
type ConnectionState = 'connecting' | 'online' | 'syncing' | 'offline' | 'draining' | 'ended';

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  online: 'online',
  syncing: 'syncing…',
  offline: 'offline',
  draining: 'server restarting…',
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
    presence: byId('thread-presence'),
    older: byId<HTMLButtonElement>('older'),
    typing: byId('typing'),
    composer: byId<HTMLFormElement>('composer'),
    text: byId<HTMLTextAreaElement>('composer-text'),
    send: byId<HTMLButtonElement>('composer-send'),
    composerError: byId('composer-error'),
    editBar: byId('edit-bar'),
    editCancel: byId<HTMLButtonElement>('edit-cancel'),
  };

  let ended = false;
  function showState(state: ConnectionState, detail?: string): void {
    if (ended) return;
    el.conn.dataset.state = state;
    el.conn.textContent = detail ? `${STATE_TEXT[state]} — ${detail}` : STATE_TEXT[state];
  }
  function end(reason: string): void {
    if (ended) return;
    showState('ended', reason);
    ended = true;
    client.close();
    onSignedOut(reason);
  }

  const client = createClient({
    autoConnect: false,
    // A development token is renewed; a pasted one cannot be, and its end signs the user out.
    token: async (reason) => {
      try {
        return reason === 'expired' || reason === 'refused' ? (await tokens.renew()).token : await tokens.token();
      } catch (err) {
        if (err instanceof SessionEnded) end(err.message);
        throw err;
      }
    },
    outbox: localStorageOutbox(`relaygate.outbox.${me}`),
    reconnect: { minMs: 500, maxMs: 5_000 },
    receiptIntervalMs: 100,
  });
  const conn = client.connection;
  /** One stream per thread whose history is loaded: every later message once, in order, also after drops. */
  const streams = new Map<string, Subscription>();
  let everOnline = false;
  client.on('state', (state) => {
    if (state === 'offline') presence.forget();
    if (state !== 'online') return showState(state, state === 'offline' ? 'reconnecting…' : undefined);
    const resumed = everOnline;
    everOnline = true;
    // A new socket watches nobody yet.
    watchPresence(true);
    showState(resumed ? 'syncing' : 'connecting', resumed ? 'catching up' : 'loading');
    loadList().then(
      () => conn.online && showState('online'),
      (err: unknown) => {
        console.warn('[relaygate] loading the list failed', err);
        if (conn.online) showState('online', 'some conversations could not be refreshed');
      },
    );
  });
  const actions = createMessageActions({
    conn,
    threadOf: (id) => threadOf(id),
    changed: (m) => changed(m),
    render: () => renderThread(),
    fail: (err) => fail(el.composerError, err),
    el: { bar: el.editBar, cancel: el.editCancel, text: el.text, send: el.send },
  });
  const threadView = new ThreadView(byId('messages'), byId('messages-scroll'), me, {
    retry(clientMsgId) {
      const thread = openId ? threads.get(openId) : undefined;
      const p = thread?.retrying(clientMsgId);
      if (thread && p) track(client.send(thread.conversationId, { kind: 'text', text: p.text }, { clientMsgId }));
      renderThread();
    },
    react: actions.react,
    edit: actions.edit,
    delete: actions.delete,
  });
  const presence = new PresenceWatcher(
    (userIds) => conn.call('presence:subscribe', { userIds }),
    () => {
      renderList();
      renderThread();
    },
  );
  /** Direct chats' peers and the open group's members. */
  function watchPresence(again = false): void {
    const ids = [...entries.values()].flatMap((e) => (e.peerId ? [e.peerId] : []));
    const open = openId ? entries.get(openId) : undefined;
    if (open?.conversation.type === 'group') ids.push(...(threads.get(open.conversation.id)?.others.keys() ?? []));
    if (conn.online) presence.watch(ids, again);
  }
  const online = (userId: string) => presence.isOnline(userId);
  /** A send in the outbox: the stored message replaces the pending row; a refusal marks it ⚠. */
  function track(p: PendingSend): void {
    p.stored.then(
      (message) => received([message]),
      (err: unknown) => {
        const thread = threads.get(p.conversationId);
        thread?.fail(p.clientMsgId, err instanceof Error ? err.message : String(err));
        if (p.conversationId === openId) renderThread();
      },
    );
  }
  const reporter = {
    delivered: (id: string, seq: number) => client.markDelivered(id, seq),
    read: (id: string, seq: number) => client.markRead(id, seq),
  };
  const typingOut = new TypingSender((conversationId, typing) => client.typing(conversationId, typing));
  const typingIn = new TypingIndicator(me, () => renderTyping());

  const reading = (id: string) => id === openId && document.visibilityState === 'visible';
  const threadOf = (id: string) => threads.get(id) ?? threads.set(id, new Thread(id, me)).get(id)!;
  const fail = (target: HTMLElement, err: unknown) => {
    target.textContent = err instanceof Error ? err.message : String(err);
  };

  // ------------------------------------------------------------------ rendering

  function renderList(): void {
    renderConversationList(el.list, entries.values(), { me, openId, online, onOpen: (id) => void open(id) });
  }

  function renderThread(mode?: 'follow' | 'bottom' | 'keep'): void {
    const entry = openId ? entries.get(openId) : undefined;
    show(el.empty, !entry);
    show(el.view, Boolean(entry));
    if (!entry) return;
    const thread = threadOf(entry.conversation.id);
    renderThreadHeader(el, entry, thread, online);
    threadView.render(thread, entry.conversation.type, mode, entry.role !== 'member');
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
    watchPresence();
  }

  let listTimer: ReturnType<typeof setTimeout> | undefined;
  function refreshListSoon(): void {
    clearTimeout(listTimer);
    listTimer = setTimeout(() => void loadList().catch((err: unknown) => fail(el.sideError, err)), 200);
  }

  async function open(id: string): Promise<void> {
    if (openId !== id) {
      typingOut.stop();
      actions.cancelEdit();
    }
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
        follow(id, page.messages.reduce((max, m) => Math.max(max, m.seq), 0));
        const entry = entries.get(id);
        if (entry && entry.conversation.type !== 'channel') thread.setMembers((await api.members(id)).members);
      }
      watchPresence();
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

  /** Streams a loaded thread from `afterSeq` (the newest message of its history page). */
  function follow(id: string, afterSeq: number): void {
    if (streams.has(id)) return;
    streams.set(
      id,
      client.subscribe(
        id,
        {
          onMessage: (m) => received([m]),
          // Edits, deletions and reactions, live or found by a sync after a drop.
          onUpdate: (m) => changed(m),
          // Access lost (removed, or the conversation is gone): forget the thread.
          onDiscontinuity: () => {
            streams.delete(id);
            threads.delete(id);
            if (openId === id) renderThread();
          },
        },
        { afterSeq },
      ),
    );
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

  /** A later state of a message: the thread, and the list's preview when it is the last one. */
  function changed(m: Message): void {
    const entry = entries.get(m.conversationId);
    const inList = entry ? noteUpdate(entry, m) : false;
    const inThread = threads.get(m.conversationId)?.update(m) ?? false;
    if (inList) renderList();
    if (inThread && m.conversationId === openId) renderThread();
  }

  // Conversations without a loaded thread: the list's last message and unread badge (streamed ones come through follow()).
  conn.socket.on('message:new', (data) => {
    const { message } = checked(MessageNewSchema, data, 'message:new');
    if (!streams.has(message.conversationId)) received([message]);
  });

  // Also the list's preview of conversations without a stream; applying a change twice is a no-op.
  conn.socket.on('message:updated', (data) => changed(checked(MessageUpdatedSchema, data, 'message:updated').message));

  conn.socket.on('presence', (data) => presence.apply(checked(PresenceSchema, data, 'presence')));

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
    if (result === 'removed') {
      streams.get(update.conversation.id)?.close();
      streams.delete(update.conversation.id);
      if (openId === update.conversation.id) openId = undefined;
    }
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
    typingOut.stop();
    if (actions.editing(entry.conversation.id)) return actions.save(parsed.data);
    el.text.value = '';
    const thread = threadOf(entry.conversation.id);
    const p = client.send(thread.conversationId, { kind: 'text', text: parsed.data });
    thread.addPending({ clientMsgId: p.clientMsgId, conversationId: p.conversationId, text: parsed.data, createdAt: p.createdAt, status: 'pending' });
    track(p);
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
    if (el.text.value.trim() && !actions.editing(openId)) typingOut.typing(openId);
    else typingOut.stop();
  });
  el.older.addEventListener('click', () => void loadOlder());
  const onVisible = () => openId && markThreadRead(openId);
  document.addEventListener('visibilitychange', onVisible);

  // Sends a previous visit left unsent go again (the library does that); show them as pending.
  void client.restoredSends().then((restored) => {
    for (const p of restored) {
      if (p.body.kind !== 'text' || p.body.text === undefined) continue;
      threadOf(p.conversationId).addPending({ clientMsgId: p.clientMsgId, conversationId: p.conversationId, text: p.body.text, createdAt: p.createdAt, status: 'pending' });
      track(p);
    }
  });
  showState('connecting');
  client.connect();
  return {
    stop() {
      document.removeEventListener('visibilitychange', onVisible);
      typingOut.stop();
      typingIn.clear();
      presence.stop();
      ended = true;
      client.close();
    },
  };
}
