// Sends at a target aggregate rate. The rate is split over conversation kinds by the traffic
// mix; within a kind the per-user pattern decides who sends next: round robin (every user at
// the same steady rate), a Poisson process (random user, exponential gaps), or bursts of a few
// messages from one user. Latency is measured from the actual emit, and a generator that falls
// behind skips the backlog (counted) rather than bursting it out. Each send goes through the
// user's client library outbox (unordered: at once, retried with the same clientMsgId up to
// `sendAttempts` tries; each failed try is counted by the user). With `edit`/`react` in the
// mix, that share of the operations are changes instead (PROTOCOL.md §9): the chosen user edits
// its own last acked message in the conversation, or toggles a reaction on the conversation's
// last acked message (on, then off, then on...); no target yet (nothing acked there) is skipped.
import type { SendBody } from '../client/src/index.js';
import type { LoadOptions } from './options.js';
import type { SimUser } from './sim-user.js';
import type { ChangeOp, Stats } from './stats.js';
import type { ConvInfo, ConversationKind, Tracker } from './tracker.js';
import { sleep } from './util.js';

interface Slot {
  user: SimUser;
  conv: ConvInfo;
}

const TICK_MS = 5;
/** The most a late generator catches up at once, in seconds of traffic. */
const MAX_CATCH_UP_S = 0.25;

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export class Sender {
  inFlight = 0;
  skippedLag = 0;
  private readonly slots = new Map<ConversationKind, Slot[]>();
  private readonly cursor = new Map<ConversationKind, number>();
  private readonly kinds: { kind: ConversationKind; weight: number; current: number }[] = [];
  private readonly body: SendBody;
  /** Operations with their shares of the rate (summing to 1). */
  private readonly ops: { op: 'send' | ChangeOp; weight: number }[] = [];
  /** The last acked message of each slot's user in its conversation (edit target). */
  private readonly lastOwn = new Map<Slot, string>();
  /** The last acked message of each conversation (reaction target), and who reacted to it. */
  private readonly lastInConv = new Map<ConvInfo, { id: string; reacted: Set<number> }>();
  private editCounter = 0;

  constructor(
    private readonly users: SimUser[],
    convs: ConvInfo[],
    private readonly opts: LoadOptions,
    private readonly stats: Stats,
    private readonly tracker: Tracker,
    private readonly stopping: () => boolean,
  ) {
    for (const conv of convs) {
      const list = this.slots.get(conv.kind) ?? [];
      for (const u of conv.posters) list.push({ user: users[u]!, conv });
      this.slots.set(conv.kind, list);
    }
    for (const [kind, list] of this.slots) {
      shuffle(list);
      const weight = opts.mix[kind];
      if (weight > 0 && list.length) this.kinds.push({ kind, weight, current: 0 });
    }
    this.body = { kind: 'text', text: 'x'.repeat(opts.messageChars) };
    const send = 1 - opts.mix.edit - opts.mix.react;
    for (const [op, weight] of [['send', send], ['edit', opts.mix.edit], ['react', opts.mix.react]] as const) if (weight > 0) this.ops.push({ op, weight });
  }

  /**
   * The operation of the next slot, drawn at random: a round robin here would run in step with
   * the kinds' round robin (both repeat every few picks) and tie each operation to one kind.
   */
  private nextOp(): 'send' | ChangeOp {
    if (this.ops.length === 1) return this.ops[0]!.op;
    let r = Math.random();
    for (const o of this.ops) if ((r -= o.weight) < 0) return o.op;
    return this.ops[this.ops.length - 1]!.op;
  }

  private pick<T extends { weight: number; current: number }>(items: T[]): T {
    const total = items.reduce((s, k) => s + k.weight, 0);
    if (this.opts.pattern === 'poisson') {
      let r = Math.random() * total;
      for (const k of items) if ((r -= k.weight) <= 0) return k;
      return items[items.length - 1]!;
    }
    let best = items[0]!;
    for (const k of items) {
      k.current += k.weight;
      if (k.current > best.current) best = k;
    }
    best.current -= total;
    return best;
  }

  /** Picks the kind of the next send: smooth weighted round robin, or random for poisson. */
  private nextKind(): ConversationKind {
    return this.pick(this.kinds).kind;
  }

  private nextSlot(kind: ConversationKind): Slot {
    const list = this.slots.get(kind)!;
    if (this.opts.pattern === 'poisson') return list[Math.floor(Math.random() * list.length)]!;
    const i = this.cursor.get(kind) ?? 0;
    this.cursor.set(kind, (i + 1) % list.length);
    return list[i]!;
  }

  /** Sends at `rate` for `seconds`; resolves when the time is up (not when acks are in). */
  async run(rate: number, seconds: number, step: number): Promise<void> {
    if (this.kinds.length === 0) throw new Error('nothing to send to: every conversation kind in the mix is empty');
    const started = performance.now();
    let issued = 0;
    let nextArrival = 0; // poisson: seconds since start of the next send
    const burst = this.opts.pattern === 'bursty' ? Math.max(1, this.opts.burstSize) : 1;
    for (;;) {
      const elapsed = (performance.now() - started) / 1000;
      if (elapsed >= seconds || this.stopping()) return;
      let due: number;
      if (this.opts.pattern === 'poisson') {
        due = 0;
        while (nextArrival <= elapsed) {
          due++;
          nextArrival += -Math.log(1 - Math.random()) / rate;
        }
      } else {
        due = Math.floor(rate * elapsed) - issued;
      }
      const cap = Math.ceil(rate * MAX_CATCH_UP_S) + burst;
      if (due > cap) {
        this.skippedLag += due - cap;
        issued += due - cap;
        due = cap;
      }
      while (due >= burst) {
        const slot = this.nextSlot(this.nextKind());
        const op = this.nextOp();
        for (let i = 0; i < burst; i++) {
          if (op === 'send') this.sendOne(slot, step);
          else this.changeOne(op, slot);
        }
        due -= burst;
        issued += burst;
      }
      if (this.opts.pattern === 'poisson') issued += due;
      await sleep(TICK_MS);
    }
  }

  /** False (and counted) when the user is offline or too much awaits an ack. */
  private mayIssue(user: SimUser): boolean {
    if (!user.connected) {
      this.stats.skippedOffline++;
      return false;
    }
    if (this.inFlight >= this.opts.maxInFlight) {
      this.stats.skippedBackpressure++;
      return false;
    }
    return true;
  }

  private sendOne(slot: Slot, step: number): void {
    const { user, conv } = slot;
    if (!this.mayIssue(user)) return;
    const clientMsgId = user.nextClientMsgId();
    const rec = this.tracker.register(conv, user.index, clientMsgId, step, performance.now());
    this.stats.onAttempt();
    this.inFlight++;
    user.client.send(conv.id, this.body, { clientMsgId }).stored.then(
      (message) => {
        this.inFlight--;
        this.tracker.onAck(rec, message, performance.now());
        if (this.ops.length > 1) {
          this.lastOwn.set(slot, message.id);
          const last = this.lastInConv.get(conv);
          if (!last || last.id !== message.id) this.lastInConv.set(conv, { id: message.id, reacted: new Set() });
        }
      },
      () => void this.inFlight--, // refused for good or out of tries: stays unacked
    );
  }

  /** One edit or reaction toggle by the slot's user; acks and failures are counted per operation. */
  private changeOne(op: ChangeOp, slot: Slot): void {
    const { user, conv } = slot;
    const tally = this.stats.changes[op];
    const sentAt = performance.now();
    if (!this.mayIssue(user)) return;
    let done: Promise<unknown>;
    if (op === 'edit') {
      const messageId = this.lastOwn.get(slot);
      if (!messageId) return void tally.noTarget++;
      // A new text each time: the same text again is a no-op (§9).
      const text = `e${(this.editCounter++).toString(36)} ${this.body.text ?? ''}`.slice(0, Math.max(this.opts.messageChars, 8));
      tally.attempted++;
      done = user.call('message:edit', { conversationId: conv.id, messageId, text }, this.opts.sendAttempts);
    } else {
      const last = this.lastInConv.get(conv);
      if (!last) return void tally.noTarget++;
      const on = !last.reacted.has(user.index);
      if (on) last.reacted.add(user.index);
      else last.reacted.delete(user.index);
      tally.attempted++;
      done = user.call('message:react', { conversationId: conv.id, messageId: last.id, emoji: '👍', on }, this.opts.sendAttempts);
    }
    this.inFlight++;
    done.then(
      () => {
        this.inFlight--;
        this.stats.onChangeAck(op, performance.now() - sentAt);
      },
      () => void this.inFlight--, // refused for good or out of tries: counted as errors by the user
    );
  }
}
