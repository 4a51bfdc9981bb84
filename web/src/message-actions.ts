// Changing stored messages from the page (PROTOCOL.md §9): edit (the composer turns into an
// edit box for one of my messages), delete, and toggle my reaction. The server's answer comes
// back as `message:updated` to the room; an edit's ack already holds the new state.
import type { Message } from '../../protocol/index.js';
import type { Connection } from '../../client/src/index.js';
import type { Thread } from './chat-state.js';
import { show } from './dom.js';
import type { MessageHandlers } from './thread.view.js';

interface EditTarget {
  conversationId: string;
  messageId: string;
}

export interface MessageActionDeps {
  conn: Pick<Connection, 'call'>;
  threadOf(conversationId: string): Thread;
  /** A new state of a message to show (from an ack). */
  changed(m: Message): void;
  /** Something only this page knows changed (my reactions, the edit box). */
  render(): void;
  fail(err: unknown): void;
  el: { bar: HTMLElement; cancel: HTMLButtonElement; text: HTMLTextAreaElement; send: HTMLButtonElement };
}

export function createMessageActions(d: MessageActionDeps): Omit<MessageHandlers, 'retry'> & {
  /** The composer edits this conversation's message: `save` instead of sending. */
  editing(conversationId: string): boolean;
  save(text: string): void;
  cancelEdit(): void;
} {
  let target: EditTarget | undefined;
  /** What the composer held before the edit began: given back after it. */
  let draft = '';

  function cancelEdit(): void {
    if (!target) return;
    target = undefined;
    show(d.el.bar, false);
    d.el.text.value = draft;
    d.el.send.textContent = 'Send';
  }
  d.el.cancel.addEventListener('click', cancelEdit);
  d.el.text.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && target) {
      e.preventDefault();
      cancelEdit();
    }
  });

  return {
    editing: (conversationId) => target?.conversationId === conversationId,
    cancelEdit,

    edit(m) {
      if (!target) draft = d.el.text.value;
      target = { conversationId: m.conversationId, messageId: m.id };
      show(d.el.bar, true);
      d.el.text.value = m.text ?? '';
      d.el.send.textContent = 'Save';
      d.el.text.focus();
    },

    save(text) {
      if (!target) return;
      const { conversationId, messageId } = target;
      cancelEdit();
      d.conn.call('message:edit', { conversationId, messageId, text }).then(({ message }) => d.changed(message), d.fail);
    },

    delete(m) {
      if (target?.messageId === m.id) cancelEdit();
      d.conn.call('message:delete', { conversationId: m.conversationId, messageId: m.id }).catch(d.fail);
    },

    react(m, emoji) {
      const thread = d.threadOf(m.conversationId);
      const on = !thread.hasReacted(m.id, emoji);
      d.conn.call('message:react', { conversationId: m.conversationId, messageId: m.id, emoji, on }).then(() => {
        thread.setReacted(m.id, emoji, on);
        d.render();
      }, d.fail);
    },
  };
}
