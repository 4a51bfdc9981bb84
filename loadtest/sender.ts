// Sends at a target aggregate rate. The rate is split over conversation kinds by the traffic
// mix; within a kind the per-user pattern decides who sends next: round robin (every user at
// the same steady rate), a Poisson process (random user, exponential gaps), or bursts of a few
// messages from one user. Latency is measured from the actual emit, and a generator that falls
// behind skips the backlog (counted) rather than bursting it out. Each send goes through the
// user's client library outbox (unordered: at once, retried with the same clientMsgId up to
// `sendAttempts` tries; each failed try is counted by the user).
import type { SendBody } from '../client/src/index.js';
import type { LoadOptions } from './options.js';
import type { SimUser } from './sim-user.js';
import type { Stats } from './stats.js';
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
  }

  /** Picks the kind of the next send: smooth weighted round robin, or random for poisson. */
  private nextKind(): ConversationKind {
    const total = this.kinds.reduce((s, k) => s + k.weight, 0);
    if (this.opts.pattern === 'poisson') {
      let r = Math.random() * total;
      for (const k of this.kinds) if ((r -= k.weight) <= 0) return k.kind;
      return this.kinds[this.kinds.length - 1]!.kind;
    }
    let best = this.kinds[0]!;
    for (const k of this.kinds) {
      k.current += k.weight;
      if (k.current > best.current) best = k;
    }
    best.current -= total;
    return best.kind;
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
        for (let i = 0; i < burst; i++) this.sendOne(slot, step);
        due -= burst;
        issued += burst;
      }
      if (this.opts.pattern === 'poisson') issued += due;
      await sleep(TICK_MS);
    }
  }

  private sendOne({ user, conv }: Slot, step: number): void {
    if (!user.connected) {
      this.stats.skippedOffline++;
      return;
    }
    if (this.inFlight >= this.opts.maxInFlight) {
      this.stats.skippedBackpressure++;
      return;
    }
    const clientMsgId = user.nextClientMsgId();
    const rec = this.tracker.register(conv, user.index, clientMsgId, step, performance.now());
    this.stats.onAttempt();
    this.inFlight++;
    user.client.send(conv.id, this.body, { clientMsgId }).stored.then(
      (message) => {
        this.inFlight--;
        this.tracker.onAck(rec, message, performance.now());
      },
      () => void this.inFlight--, // refused for good or out of tries: stays unacked
    );
  }
}
