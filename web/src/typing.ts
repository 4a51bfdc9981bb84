// Typing indicators. Outgoing: at most one `typing: true` every few seconds while keys are
// pressed and one `false` when the user stops or sends (the server allows 2 events/s).
// Incoming: who is typing where, forgotten after a while if their `false` never comes.

const RESEND_MS = 3_000;
const IDLE_MS = 4_000;
const EXPIRE_MS = 6_000;

export class TypingSender {
  private conversationId: string | undefined;
  private sentAt = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly emit: (conversationId: string, typing: boolean) => void) {}

  typing(conversationId: string): void {
    if (this.conversationId !== conversationId) this.stop();
    const now = Date.now();
    if (now - this.sentAt > RESEND_MS) {
      this.emit(conversationId, true);
      this.sentAt = now;
    }
    this.conversationId = conversationId;
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.stop(), IDLE_MS);
  }

  stop(): void {
    clearTimeout(this.idle);
    if (this.conversationId) this.emit(this.conversationId, false);
    this.conversationId = undefined;
    this.sentAt = 0;
  }
}

export class TypingIndicator {
  private readonly byConversation = new Map<string, Map<string, number>>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly me: string,
    private readonly onChange: () => void,
  ) {}

  apply(e: { conversationId: string; userId: string; typing: boolean }): void {
    if (e.userId === this.me) return;
    const users = this.byConversation.get(e.conversationId) ?? new Map<string, number>();
    if (e.typing) users.set(e.userId, Date.now() + EXPIRE_MS);
    else users.delete(e.userId);
    this.byConversation.set(e.conversationId, users);
    this.timer ??= setInterval(() => this.expire(), 1_000);
    this.onChange();
  }

  who(conversationId: string): string[] {
    return [...(this.byConversation.get(conversationId)?.keys() ?? [])].sort();
  }

  clear(): void {
    this.byConversation.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private expire(): void {
    const now = Date.now();
    let changed = false;
    for (const [id, users] of this.byConversation) {
      for (const [user, until] of users) if (until <= now) changed = users.delete(user) || changed;
      if (users.size === 0) this.byConversation.delete(id);
    }
    if (this.byConversation.size === 0) this.clear();
    if (changed) this.onChange();
  }
}
