// The conversation list: title, type, last message and unread badge, most recent first; a
// direct chat's title has a dot for whether the other member is online.
import { describe, sortEntries, titleOf, type Entry } from './chat-state.js';
import { h } from './dom.js';
import { presenceDot } from './thread.view.js';

export function renderConversationList(
  ul: HTMLElement,
  entries: Iterable<Entry>,
  opts: { me: string; openId: string | undefined; online(userId: string): boolean | undefined; onOpen(id: string): void },
): void {
  const rows = sortEntries(entries).map((entry) => {
    const c = entry.conversation;
    const last = entry.lastMessage;
    const preview = last ? (last.kind === 'system' ? describe(last, opts.me) : `${last.senderId === opts.me ? 'you' : last.senderId}: ${describe(last, opts.me)}`) : 'no messages yet';
    const li = h(
      'li',
      { class: c.id === opts.openId ? 'active' : '', testid: 'conversation', attrs: { 'data-id': c.id, role: 'button', tabindex: '0' } },
      h(
        'span',
        { class: 'title', testid: 'conversation-title' },
        c.type === 'direct' && entry.peerId ? presenceDot(opts.online(entry.peerId)) : null,
        titleOf(entry),
        h('span', { class: 'kind', text: c.public ? `public ${c.type}` : c.type }),
      ),
      entry.unread > 0 ? h('span', { class: 'badge', testid: 'unread', text: entry.unread > 99 ? '99+' : String(entry.unread) }) : h('span'),
      h('span', { class: 'preview', text: preview }),
    );
    li.addEventListener('click', () => opts.onOpen(c.id));
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') opts.onOpen(c.id);
    });
    return li;
  });
  ul.replaceChildren(...rows);
}
