// The open conversation's messages. Rows are keyed (my messages by clientMsgId, so an optimistic
// row becomes the stored one in place) and reused across renders; only ticks change on a row.
import type { Conversation, Message } from '../../protocol/index.js';
import { canPost, describe, titleOf, type Entry, type PendingMessage, type Thread, type Tick } from './chat-state.js';
import { clock, h, show } from './dom.js';

const TICK_TEXT: Record<Tick, string> = { pending: '🕓', failed: '⚠ retry', sent: '✓', delivered: '✓✓', read: '✓✓' };

/** Title, type, id, the "load older" button and whether the composer is usable. */
export function renderThreadHeader(
  el: { title: HTMLElement; meta: HTMLElement; id: HTMLElement; older: HTMLElement; text: HTMLTextAreaElement; send: HTMLButtonElement },
  entry: Entry,
  thread: Thread,
): void {
  const c = entry.conversation;
  el.title.textContent = titleOf(entry);
  el.meta.textContent = `${c.public ? 'public ' : ''}${c.type} · you are ${entry.role}`;
  el.id.textContent = c.id;
  show(el.older, thread.historyLoaded && thread.nextBefore !== undefined);
  const may = canPost(entry);
  el.text.disabled = !may;
  el.send.disabled = !may;
  el.text.placeholder = may ? 'Write a message (Enter sends, Shift+Enter for a new line)' : 'Only owners, admins and moderators post in this channel';
}

interface Row {
  el: HTMLLIElement;
  tickEl?: HTMLElement;
  tick?: Tick;
}

export class ThreadView {
  private rows = new Map<string, Row>();
  private conversationId: string | undefined;

  constructor(
    private readonly list: HTMLElement,
    private readonly scroller: HTMLElement,
    private readonly me: string,
    private readonly onRetry: (clientMsgId: string) => void,
  ) {}

  /** Re-renders; keeps the reader at the bottom if they were there, or in place when older messages were added. */
  render(thread: Thread, type: Conversation['type'], mode: 'follow' | 'bottom' | 'keep' = 'follow'): void {
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
      let row = this.rows.get(key);
      if (!row) {
        row = item.kind === 'pending' ? this.pendingRow(item.pending) : this.messageRow(item.message);
        this.rows.set(key, row);
      } else if (item.kind === 'message' && row.el.dataset.seq === undefined) {
        // The optimistic row of my message is now stored: it has a seq and a time.
        row.el.dataset.seq = String(item.message.seq);
        row.el.querySelector('time')?.replaceChildren(clock(item.message.createdAt));
      }
      if (tick && row.tickEl && row.tick !== tick) this.setTick(row, tick, item.kind === 'pending' ? item.pending : undefined);
      els.push(row.el);
    }
    for (const key of [...this.rows.keys()]) if (!seen.has(key)) this.rows.delete(key);
    this.list.replaceChildren(...els);

    if (mode === 'bottom' || (mode === 'follow' && atBottom)) s.scrollTop = s.scrollHeight;
    else if (mode === 'keep') s.scrollTop = prevTop + (s.scrollHeight - prevHeight);
  }

  private messageRow(m: Message): Row {
    if (m.kind === 'system') {
      const el = h('li', { class: 'msg system', testid: 'message', attrs: { 'data-seq': String(m.seq) } }, h('span', { testid: 'message-text', text: describe(m, this.me) }));
      return { el };
    }
    const mine = m.senderId === this.me;
    const body =
      m.kind === 'text'
        ? h('div', { class: 'text', testid: 'message-text', text: m.text ?? '' })
        : h('div', { class: 'text', testid: 'message-text' }, this.attachmentLink(m));
    const tickEl = mine ? h('span', { class: 'tick', testid: 'tick' }) : undefined;
    const el = h(
      'li',
      { class: mine ? 'msg mine' : 'msg', testid: 'message', attrs: { 'data-seq': String(m.seq), 'data-sender': m.senderId } },
      mine ? null : h('div', { class: 'meta' }, h('span', { class: 'sender', text: m.senderId })),
      body,
      h('div', { class: 'foot' }, h('time', { attrs: { datetime: m.createdAt }, text: clock(m.createdAt) }), tickEl),
    );
    return { el, ...(tickEl ? { tickEl } : {}) };
  }

  private pendingRow(p: PendingMessage): Row {
    const tickEl = h('span', { class: 'tick', testid: 'tick' });
    tickEl.addEventListener('click', () => {
      if (tickEl.dataset.tick === 'failed') this.onRetry(p.clientMsgId);
    });
    const el = h(
      'li',
      { class: 'msg mine', testid: 'message', attrs: { 'data-sender': this.me, 'data-client-msg-id': p.clientMsgId } },
      h('div', { class: 'text', testid: 'message-text', text: p.text }),
      h('div', { class: 'foot' }, h('time', { text: '' }), tickEl),
    );
    return { el, tickEl };
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

function keyOf(m: Message, me: string): string {
  return m.senderId === me ? `c:${m.clientMsgId}` : `m:${m.id}`;
}
