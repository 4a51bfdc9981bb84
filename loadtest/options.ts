// Options of a load run: one plain object with every default and its unit, shared by the CLI,
// the benchmark script and the smoke test. `resolveOptions` fills in what a caller left out.
import { randomBytes } from 'node:crypto';

export type Scenario = 'steady' | 'ramp' | 'idle';
/** How one user's sends are spaced: evenly, as a Poisson process, or in bursts. */
export type SendPattern = 'uniform' | 'poisson' | 'bursty';

export interface TrafficMix {
  /** Shares of the aggregate send rate; normalised, kinds with share 0 are not created. */
  direct: number;
  group: number;
  channel: number;
}

export interface RampOptions {
  /** First step's aggregate rate, sends/s. */
  start: number;
  /** Each step multiplies the rate by this (1.25 = +25 %). */
  factor: number;
  /** Never go above this rate, sends/s. */
  max: number;
  /** Sending time of one step, s. */
  stepSeconds: number;
  /** Quiet time after a step for late deliveries before it is judged, ms. */
  settleMs: number;
  /** Sending at the start rate before the first step, not judged (JIT, pools, caches), s. */
  warmupSeconds: number;
  /** A failed step is tried again this many times before the ramp stops (one blip on a shared box is not a limit). */
  retries: number;
  /** A step fails when send→deliver p99 exceeds this, ms. */
  p99LimitMs: number;
  /** ... or when more than this fraction of (message, member) pairs is not delivered. */
  lossLimit: number;
  /** ... or when fewer than this fraction of the target rate was accepted. */
  minAcceptedShare: number;
}

export interface LoadOptions {
  /** Gateway base URLs; users are spread over them round robin. */
  urls: string[];
  /** HS256 secret the gateway verifies tokens with. */
  jwtSecret: string;
  scenario: Scenario;
  /** Simulated users, one socket each. */
  users: number;
  /** Sockets opened per second during the ramp-up. */
  connectRate: number;
  /** Sockets whose handshake may be in flight at once. */
  connectConcurrency: number;
  /** Aggregate target send rate (steady), sends/s. */
  rate: number;
  /** Sending time (steady) or holding time (idle), s. */
  duration: number;
  pattern: SendPattern;
  /** Messages per burst with pattern `bursty`. */
  burstSize: number;
  mix: TrafficMix;
  /** Members of each group. */
  groupSize: number;
  /** Members of the one large channel (0 = none); capped at `users`. */
  channelSize: number;
  /** Channel members allowed to post (the owner and admins). */
  channelPosters: number;
  /** Text length of each message, characters. */
  messageChars: number;
  /** Fraction of users whose client sends `message:delivered` / `message:read`. */
  receiptSample: number;
  /** How often a sampled client reports its delivered watermark, ms. */
  receiptIntervalMs: number;
  /** Probability that a delivered report is followed by a read report. */
  readRatio: number;
  /** Socket.IO transports; websocket only by default (what a native client does). */
  transports: ('websocket' | 'polling')[];
  /** A send without an ack after this is a TIMEOUT (and retried), ms. */
  ackTimeoutMs: number;
  /** Attempts per send for retryable errors (TIMEOUT, UNAVAILABLE, RATE_LIMITED, INTERNAL). */
  sendAttempts: number;
  /** Sends awaiting an ack beyond which new sends are skipped (back-pressure), count. */
  maxInFlight: number;
  /** After sending stops, wait up to this for outstanding acks and deliveries, ms. */
  drainMs: number;
  /** Check every acked message against history at the end (`conversation:sync`). */
  verify: boolean;
  /** Scrape each URL's /metrics this often, ms (0 = never). */
  scrapeIntervalMs: number;
  ramp: RampOptions;
  /** Prefix of every user id and clientMsgId of this run. */
  runId: string;
  /** Print the progress line on stderr. */
  progress: boolean;
  /** Stop everything (and still report) after this, s. */
  hardDeadlineSeconds: number;
}

export const DEFAULTS: Omit<LoadOptions, 'urls' | 'jwtSecret' | 'runId'> = {
  scenario: 'steady',
  users: 200,
  connectRate: 500, // sockets/s
  connectConcurrency: 100,
  rate: 1_000, // sends/s, whole run
  duration: 30, // s
  pattern: 'uniform',
  burstSize: 5,
  mix: { direct: 0.3, group: 0.6, channel: 0.1 },
  groupSize: 10,
  channelSize: 200,
  channelPosters: 5,
  messageChars: 100,
  receiptSample: 0.2,
  receiptIntervalMs: 2_000,
  readRatio: 0.5,
  transports: ['websocket'],
  ackTimeoutMs: 10_000,
  sendAttempts: 3,
  maxInFlight: 20_000,
  drainMs: 10_000,
  verify: true,
  scrapeIntervalMs: 1_000,
  ramp: {
    start: 250,
    factor: 1.25,
    max: 50_000,
    stepSeconds: 8,
    settleMs: 2_000,
    warmupSeconds: 5,
    retries: 1,
    p99LimitMs: 100,
    lossLimit: 0.001, // 0.1 %
    minAcceptedShare: 0.95,
  },
  progress: true,
  hardDeadlineSeconds: 1_800, // 30 min
};

export type LoadOptionsInput = Partial<Omit<LoadOptions, 'ramp' | 'mix'>> &
  Pick<LoadOptions, 'urls' | 'jwtSecret'> & { ramp?: Partial<RampOptions>; mix?: Partial<TrafficMix> };

/** A run id safe inside user ids and clientMsgIds (`[A-Za-z0-9_-]`), short enough for both. */
export function newRunId(): string {
  return `lt${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

export function resolveOptions(input: LoadOptionsInput): LoadOptions {
  const o: LoadOptions = {
    ...DEFAULTS,
    ...stripUndefined(input),
    urls: input.urls,
    jwtSecret: input.jwtSecret,
    mix: { ...DEFAULTS.mix, ...stripUndefined(input.mix ?? {}) },
    ramp: { ...DEFAULTS.ramp, ...stripUndefined(input.ramp ?? {}) },
    runId: input.runId ?? newRunId(),
  };
  validate(o);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Thrown for unusable options; the CLI prints the message and exits 2. */
export class OptionsError extends Error {
  override name = 'OptionsError';
}

function validate(o: LoadOptions): void {
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new OptionsError(what);
  };
  need(o.urls.length > 0, '--url: at least one gateway URL is required');
  for (const u of o.urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(u);
    } catch {
      /* reported below */
    }
    need(Boolean(parsed && ['http:', 'https:'].includes(parsed.protocol)), `--url: not an http(s) URL: ${u}`);
  }
  need(o.jwtSecret.length > 0, '--jwt-secret (or JWT_SECRET) is required');
  need(/^[A-Za-z0-9_-]{1,24}$/.test(o.runId), '--run-id: 1-24 characters of [A-Za-z0-9_-]');
  need(Number.isInteger(o.users) && o.users >= 2, '--users: an integer >= 2');
  need(o.connectRate > 0, '--connect-rate: > 0');
  need(o.rate > 0, '--rate: > 0');
  need(o.duration > 0, '--duration: > 0');
  need(o.groupSize >= 2 && o.groupSize <= 1_000, '--group-size: 2..1000');
  need(o.channelSize >= 0, '--channel-size: >= 0');
  need(o.messageChars >= 1 && o.messageChars <= 4_000, '--message-chars: 1..4000');
  need(o.receiptSample >= 0 && o.receiptSample <= 1, '--receipt-sample: 0..1');
  need(o.readRatio >= 0 && o.readRatio <= 1, '--read-ratio: 0..1');
  need(o.mix.direct >= 0 && o.mix.group >= 0 && o.mix.channel >= 0, '--mix: shares must be >= 0');
  need(o.mix.direct + o.mix.group + o.mix.channel > 0, '--mix: at least one share must be > 0');
  need(o.ramp.factor > 1, '--ramp-factor: > 1');
  need(o.ramp.start > 0 && o.ramp.max >= o.ramp.start, '--ramp-start/--ramp-max: 0 < start <= max');
  need(o.sendAttempts >= 1, '--send-attempts: >= 1');
}

/** Parses `direct=0.3,group=0.6,channel=0.1` (any subset; missing kinds get 0). */
export function parseMix(spec: string): TrafficMix {
  const mix: TrafficMix = { direct: 0, group: 0, channel: 0 };
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = part.split('=');
    if (k !== 'direct' && k !== 'group' && k !== 'channel') throw new OptionsError(`--mix: unknown kind "${k}"`);
    const n = Number(v?.replace(/%$/, ''));
    if (!Number.isFinite(n) || n < 0) throw new OptionsError(`--mix: bad share for ${k}`);
    mix[k] = v?.endsWith('%') ? n / 100 : n;
  }
  return mix;
}

/** Parses a duration: `30`, `30s`, `2m`, `500ms` → seconds. */
export function parseSeconds(spec: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(spec.trim());
  if (!m) throw new OptionsError(`${flag}: not a duration: ${spec}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
}
