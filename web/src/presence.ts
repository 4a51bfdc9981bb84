// Who is online (PROTOCOL.md §9): the page watches the peers of its direct chats and the members
// of the open thread with one `presence:subscribe` (it replaces the socket's set, so the whole set
// goes each time), again after every reconnection (a new socket watches nothing), and keeps
// each user's state from the ack and the `presence` events that follow.
import { LIMITS, type Presence } from '../../protocol/index.js';

export class PresenceWatcher {
  private readonly online = new Map<string, boolean>();
  private watched = '';
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly subscribe: (userIds: string[]) => Promise<{ presence: Presence[] }>,
    private readonly onChange: () => void,
  ) {}

  /** Watches these users (the first `presenceSubscribeMax`); `again`: also when the set is unchanged (a new socket). */
  watch(userIds: Iterable<string>, again = false): void {
    const ids = [...new Set(userIds)].sort().slice(0, LIMITS.presenceSubscribeMax);
    const key = ids.join('\n');
    if (key === this.watched && !again) return;
    this.watched = key;
    clearTimeout(this.timer);
    // Opening threads and loading the list come in bursts: one call for the burst.
    this.timer = setTimeout(() => {
      this.subscribe(ids).then(
        ({ presence }) => {
          for (const p of presence) this.online.set(p.userId, p.online);
          this.onChange();
        },
        (err: unknown) => {
          // Tried again with the next change or reconnection.
          this.watched = '';
          console.warn('[relaygate] presence:subscribe failed', err);
        },
      );
    }, 50);
  }

  apply(p: Presence): void {
    if (this.online.get(p.userId) === p.online) return;
    this.online.set(p.userId, p.online);
    this.onChange();
  }

  /** Offline: nothing is known until the next subscription's ack. */
  forget(): void {
    if (this.online.size === 0) return;
    this.online.clear();
    this.onChange();
  }

  /** Undefined until known. */
  isOnline(userId: string): boolean | undefined {
    return this.online.get(userId);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
