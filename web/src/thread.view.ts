// The open conversation's messages. Rows are keyed (my messages by clientMsgId, so an optimistic
// row becomes the stored one in place) and reused across renders; ticks change on a row, and a
// change to the message (edit, deletion, reactions, PROTOCOL.md §9) builds its row again.
import type { Conversation, Message } from '../../protocol/index.js';
import { canPost, describe, titleOf, type Entry, type PendingMessage, type Thread, type Tick } from './chat-state.js';
import { clock, h, show } from './dom.js';

const TICK_TEXT: Record<Tick, string> = { pending: '🕓', failed: '⚠ retry', sent: '✓', delivered: '✓✓', read: '✓✓' };
/** Offered on every message; any other emoji shown comes from someone else's reaction. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉'] as const;

/** What the reader can do to a message. */
export interface MessageHandlers {
  retry(clientMsgId: string): void;
  /** Puts my reaction on, or takes it off when I hold it. */
  react(m: Message, emoji: string): void;
  edit(m: Message): void;
  delete(m: Message): void;
}

/** Title, type, id, the "load older" button and whether the composer is usable. */
export function renderThreadHeader(
  el: { title: HTMLElement; meta: HTMLElement; id: HTMLElement; presence: HTMLElement; older: HTMLElement; text: HTMLTextAreaElement; send: HTMLButtonElement },
  entry: Entry,
  thread: Thread,
  online: (userId: string) => boolean | undefined,
): void {
  const c = entry.conversation;
  el.title.textContent = titleOf(entry);
  // Who is online: the peer of a direct chat, the first members of a group (channels list none).
  const others = c.type === 'direct' ? (entry.peerId ? [entry.peerId] : []) : c.type === 'group' ? [...thread.others.keys()].slice(0, 12) : [];
  el.presence.replaceChildren(...others.map((u) => h('span', { class: 'who', testid: 'member-presence', attrs: { 'data-user': u } }, presenceDot(online(u)), u)));
  el.meta.textContent = `${c.public ? 'public ' : ''}${c.type} · you are ${entry.role}`;
  el.id.textContent = c.id;
  show(el.older, thread.historyLoaded && thread.nextBefore !== undefined);
  const may = canPost(entry);
  el.text.disabled = !may;
  el.send.disabled = !may;
  el.text.placeholder = may ? 'Write a message (Enter sends, Shift+Enter for a new line)' : 'Only owners, admins and moderators post in this channel';
}

/** A green or grey dot; `data-online` is `true`, `false` or `unknown`. */
export function presenceDot(online: boolean | undefined): HTMLElement {
  const state = online === undefined ? 'unknown' : String(online);
  return h('span', { class: 'dot', testid: 'presence', attrs: { 'data-online': state, title: online ? 'online' : online === false ? 'offline' : '', 'aria-label': online ? 'online' : 'offline' } });
}

interface Row {
  el: HTMLLIElement;
  tickEl?: HTMLElement;
  tick?: Tick;
  /** What the row was built from: rebuilt when it differs. */
  version: string;
}

export class ThreadView {
  private rows = new Map<string, Row>();
  private conversationId: string | undefined;

  constructor(
    private readonly list: HTMLElement,
    private readonly scroller: HTMLElement,
    private readonly me: string,
    private readonly on: MessageHandlers,
  ) {}

  /**
   * Re-renders; keeps the reader at the bottom if they were there, or in place when older messages
   * were added. `moderates`: my role lets me delete others' messages.
   */
  render(thread: Thread, type: Conversation['type'], mode: 'follow' | 'bottom' | 'keep' = 'follow', moderates = false): void {
    if (thread.conversationId !== this.conversationId) {
      this.rows.clear();
      this.conversationId = thread.conversationId;
      mode = 'bottom';
    }
    const s = this.scroller;
    const atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 80;
    const prevHeight = s.scrollHeight;
    const prevTop = s.scrollTop;

    const seen = new Set<string>();
    const els: HTMLLIElement[] = [];
    for (const item of thread.items()) {
      const key = item.kind === 'pending' ? `c:${item.pending.clientMsgId}` : keyOf(item.message, this.me);
      seen.add(key);
      const tick: Tick | undefined =
        item.kind === 'pending' ? item.pending.status : item.message.senderId === this.me && item.message.kind !== 'system' ? thread.tick(item.message, type) : undefined;
      const version = item.kind === 'pending' ? 'pending' : versionOf(item.message, thread, moderates);
      let row = this.rows.get(key);
      // The optimistic row of my message becomes the stored one (seq, time, actions) in the same place.
      if (!row || row.version !== version) {
        row = item.kind === 'pending' ? this.pendingRow(item.pending) : this.messageRow(item.message, thread, moderates);
        this.rows.set(key, row);
      }
      if (tick && row.tickEl && row.tick !== tick) this.setTick(row, tick, item.kind === 'pending' ? item.pending : undefined);
      els.push(row.el);
    }
    for (const key of [...this.rows.keys()]) if (!seen.has(key)) this.rows.delete(key);
    this.list.replaceChildren(...els);

    if (mode === 'bottom' || (mode === 'follow' && atBottom)) s.scrollTop = s.scrollHeight;
    else if (mode === 'keep') s.scrollTop = prevTop + (s.scrollHeight - prevHeight);
  }

  private messageRow(m: Message, thread: Thread, moderates: boolean): Row {
    const version = versionOf(m, thread, moderates);
    if (m.kind === 'system') {
      const el = h('li', { class: 'msg system', testid: 'message', attrs: { 'data-seq': String(m.seq) } }, h('span', { testid: 'message-text', text: describe(m, this.me) }));
      return { el, version };
    }
    const mine = m.senderId === this.me;
    const deleted = Boolean(m.deletedAt);
    const body = deleted
      ? h('div', { class: 'text deleted', testid: 'message-text', text: 'message deleted' })
      : m.kind === 'text'
        ? h('div', { class: 'text', testid: 'message-text', text: m.text ?? '' })
        : h('div', { class: 'text', testid: 'message-text' }, this.attachmentLink(m));
    const tickEl = mine ? h('span', { class: 'tick', testid: 'tick' }) : undefined;
    const attrs: Record<string, string> = { 'data-seq': String(m.seq), 'data-sender': m.senderId };
    if (deleted) attrs['data-deleted'] = 'true';
    const el = h(
      'li',
      { class: mine ? 'msg mine' : 'msg', testid: 'message', attrs },
      mine ? null : h('div', { class: 'meta' }, h('span', { class: 'sender', text: m.senderId })),
      body,
      deleted ? null : this.reactions(m, thread),
      h(
        'div',
        { class: 'foot' },
        deleted ? null : this.actions(m, mine, moderates),
        m.editedAt && !deleted ? h('span', { class: 'edited', testid: 'edited', attrs: { title: `edited ${m.editedAt}` }, text: 'edited' }) : null,
        h('time', { attrs: { datetime: m.createdAt }, text: clock(m.createdAt) }),
        tickEl,
      ),
    );
    return { el, version, ...(tickEl ? { tickEl } : {}) };
  }

  /** One button per emoji with its count; mine are marked, and a click toggles mine. */
  private reactions(m: Message, thread: Thread): HTMLElement | null {
    if (!m.reactions?.length) return null;
    return h(
      'div',
      { class: 'reactions', testid: 'reactions' },
      ...m.reactions.map(({ emoji, count }) => {
        const mine = thread.hasReacted(m.id, emoji);
        const b = h('button', {
          class: mine ? 'reaction mine' : 'reaction',
          testid: 'reaction',
          attrs: { type: 'button', 'data-emoji': emoji, 'data-count': String(count), 'data-mine': String(mine), 'aria-pressed': String(mine), title: mine ? 'take my reaction off' : 'react' },
          text: `${emoji} ${count}`,
        });
        b.addEventListener('click', () => this.on.react(m, emoji));
        return b;
      }),
    );
  }

  /** Quick reactions; edit for my text messages; delete for mine, or anyone's when I moderate (asks twice). */
  private actions(m: Message, mine: boolean, moderates: boolean): HTMLElement {
    const button = (testid: string, text: string, title: string, attrs: Record<string, string> = {}) =>
      h('button', { class: 'link action', testid, attrs: { type: 'button', title, ...attrs }, text });
    const react = QUICK_REACTIONS.map((emoji) => {
      const b = button('react', emoji, `react ${emoji}`, { 'data-emoji': emoji });
      b.addEventListener('click', () => this.on.react(m, emoji));
      return b;
    });
    const edit = mine && m.kind === 'text' ? button('edit', 'edit', 'edit this message') : null;
    edit?.addEventListener('click', () => this.on.edit(m));
    const del = mine || moderates ? button('delete', 'delete', 'delete this message') : null;
    let armed: ReturnType<typeof setTimeout> | undefined;
    del?.addEventListener('click', () => {
      if (armed === undefined) {
        del.textContent = 'delete?';
        del.dataset.confirm = 'true';
        armed = setTimeout(() => {
          armed = undefined;
          del.textContent = 'delete';
          delete del.dataset.confirm;
        }, 4_000);
        return;
      }
      clearTimeout(armed);
      this.on.delete(m);
    });
    return h('span', { class: 'actions', testid: 'actions' }, ...react, edit, del);
  }

  private pendingRow(p: PendingMessage): Row {
    const tickEl = h('span', { class: 'tick', testid: 'tick' });
    tickEl.addEventListener('click', () => {
      if (tickEl.dataset.tick === 'failed') this.on.retry(p.clientMsgId);
    });
    const el = h(
      'li',
      { class: 'msg mine', testid: 'message', attrs: { 'data-sender': this.me, 'data-client-msg-id': p.clientMsgId } },
      h('div', { class: 'text', testid: 'message-text', text: p.text }),
      h('div', { class: 'foot' }, h('time', { text: '' }), tickEl),
    );
    return { el, tickEl, version: 'pending' };
  }

  private attachmentLink(m: Message): HTMLElement {
    const a = m.attachment;
    if (!a) return h('span', { text: 'file' });
    // Only https: URLs are accepted by the server; checked again before making a link.
    const safe = /^https:\/\//i.test(a.url);
    return safe
      ? h('a', { attrs: { href: a.url, target: '_blank', rel: 'noopener noreferrer' }, text: `📎 ${a.name}` })
      : h('span', { text: `📎 ${a.name}` });
  }

  private setTick(row: Row, tick: Tick, pending?: PendingMessage): void {
    row.tick = tick;
    const el = row.tickEl!;
    el.dataset.tick = tick;
    el.textContent = TICK_TEXT[tick];
    el.title = tick === 'failed' ? `not sent: ${pending?.error ?? 'error'} (click to retry)` : tick;
    el.setAttribute('aria-label', tick);
  }
}

/** Everything a stored message's row shows besides its tick. */
function versionOf(m: Message, thread: Thread, moderates: boolean): string {
  const mine = [...(thread.myReactions.get(m.id) ?? [])].sort().join(',');
  return `${m.seq}/${m.updatedSeq ?? 0}/${mine}/${moderates}`;
}

function keyOf(m: Message, me: string): string {
  return m.senderId === me ? `c:${m.clientMsgId}` : `m:${m.id}`;
}
