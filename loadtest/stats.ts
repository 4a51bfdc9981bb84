// Measurements: HDR histograms (pure-JS build, values in microseconds), counters, errors by
// code, and one point per second for the latency-over-time chart. The one place percentiles are
// computed: the load generator, the benchmarks and the scrape summaries all use these.
import hdr from 'hdr-histogram-js';

export type Histogram = ReturnType<typeof hdr.build>;

export function newHistogram(): Histogram {
  // 1 µs .. 10 min at 3 significant digits; auto-resize covers anything beyond.
  return hdr.build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

/** Records a latency given in (fractional) milliseconds. */
export function record(h: Histogram, latencyMs: number): void {
  h.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
}

/** Percentiles of latencies given in milliseconds. */
export function summarizeMs(latenciesMs: Iterable<number>): LatencySummary {
  const h = newHistogram();
  for (const v of latenciesMs) record(h, v);
  return summarize(h);
}

/** The median of a few values (runs of a benchmark, scrapes of a run); the mean of the middle two for an even count. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One second of the run, for the time-series chart. */
export interface WindowPoint {
  /** Seconds since sending started (end of the window). */
  t: number;
  attempted: number;
  acked: number;
  deliveries: number;
  errors: number;
  ackP50: number;
  ackP99: number;
  deliverP50: number;
  deliverP99: number;
  inFlight: number;
  /** Ramp step index (−1 outside a ramp). */
  step: number;
}

/** Operations besides sends that a mix may hold (PROTOCOL.md §9). */
export type ChangeOp = 'edit' | 'react';

export interface ChangeTally {
  attempted: number;
  acked: number;
  /** Not tried: no acked message to change in that conversation yet. */
  noTarget: number;
  ack: Histogram;
}

export class Stats {
  readonly changes: Record<ChangeOp, ChangeTally> = {
    edit: { attempted: 0, acked: 0, noTarget: 0, ack: newHistogram() },
    react: { attempted: 0, acked: 0, noTarget: 0, ack: newHistogram() },
  };
  /** Live `message:updated` events that reached a member socket. */
  updatesReceived = 0;
  readonly ack = newHistogram();
  readonly deliver = newHistogram();
  private readonly windowAck = newHistogram();
  private readonly windowDeliver = newHistogram();
  readonly errors = new Map<string, number>();
  readonly windows: WindowPoint[] = [];
  attempted = 0;
  acked = 0;
  duplicateAcks = 0;
  deliveries = 0;
  duplicateDeliveries = 0;
  syncRecovered = 0;
  receiptsSent = 0;
  receiptsReceived = 0;
  skippedOffline = 0;
  skippedBackpressure = 0;
  reconnects = 0;
  disconnects = 0;
  private win = { attempted: 0, acked: 0, deliveries: 0, errors: 0 };

  error(key: string): void {
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    this.win.errors++;
  }

  onAttempt(): void {
    this.attempted++;
    this.win.attempted++;
  }

  onAck(latencyMs: number, extra?: Histogram): void {
    this.acked++;
    this.win.acked++;
    record(this.ack, latencyMs);
    record(this.windowAck, latencyMs);
    if (extra) record(extra, latencyMs);
  }

  /** An ok ack of an edit or reaction, `latencyMs` from its emit. */
  onChangeAck(op: ChangeOp, latencyMs: number): void {
    const tally = this.changes[op];
    tally.acked++;
    record(tally.ack, latencyMs);
  }

  /** A first delivery of a message to a member; `latencyMs` is undefined for the sender's echo. */
  onDelivery(latencyMs: number | undefined, extra?: Histogram): void {
    this.deliveries++;
    this.win.deliveries++;
    if (latencyMs === undefined) return;
    record(this.deliver, latencyMs);
    record(this.windowDeliver, latencyMs);
    if (extra) record(extra, latencyMs);
  }

  /**
   * Forgets what was measured so far (a warm-up): rates, latencies and changes count from here.
   * Errors, reconnects and the tracker's loss accounting keep everything.
   */
  startMeasuring(): void {
    for (const h of [this.ack, this.deliver, this.changes.edit.ack, this.changes.react.ack]) h.reset();
    for (const tally of Object.values(this.changes)) Object.assign(tally, { attempted: 0, acked: 0, noTarget: 0 });
    this.attempted = 0;
    this.acked = 0;
    this.duplicateAcks = 0;
    this.deliveries = 0;
    this.duplicateDeliveries = 0;
  }

  /** Closes the current one-second window. */
  tick(t: number, inFlight: number, step: number): WindowPoint {
    const a = summarize(this.windowAck);
    const d = summarize(this.windowDeliver);
    const point: WindowPoint = {
      t,
      ...this.win,
      ackP50: a.p50,
      ackP99: a.p99,
      deliverP50: d.p50,
      deliverP99: d.p99,
      inFlight,
      step,
    };
    this.windows.push(point);
    this.windowAck.reset();
    this.windowDeliver.reset();
    this.win = { attempted: 0, acked: 0, deliveries: 0, errors: 0 };
    return point;
  }

  errorsObject(): Record<string, number> {
    return Object.fromEntries([...this.errors.entries()].sort((a, b) => b[1] - a[1]));
  }
}
