// Options of a load run, declared once: each field's schema is its validation and default, and
// its metadata is its command-line flag and help line (see flags.ts). The CLI, the benchmark and
// the smoke test all resolve their options through `resolveOptions`. Adding an option is adding
// one field here.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { flag, list, numeric, OptionsError, seconds, validate } from './flags.js';

/** A run id safe inside user ids and clientMsgIds (`[A-Za-z0-9_-]`), short enough for both. */
export function newRunId(): string {
  return `lt${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

const KINDS = ['direct', 'group', 'channel'] as const;
/** Operations besides sends (PROTOCOL.md §9): edits of the user's own last message, reaction toggles. */
const CHANGES = ['edit', 'react'] as const;
const DEFAULT_KINDS = { direct: 0.3, group: 0.6, channel: 0.1 };

type MixInput = Partial<Record<(typeof KINDS)[number] | (typeof CHANGES)[number] | 'send', number>>;
/** Conversation kinds as weights of sends; `edit` and `react` as fractions of all operations. */
export type Mix = Record<(typeof KINDS)[number] | (typeof CHANGES)[number], number>;

/**
 * The two halves of a mix: which conversations sends go to (`direct`, `group`, `channel`: weights;
 * none named = the defaults), and which operations run at `--rate` (`send`, `edit`, `react`).
 * Without `send`, `edit` and `react` are fractions of the rate and sends get the rest
 * (`edit=5%,react=5%`); with it the three are weights (`send=90,edit=5,react=5`).
 */
export function normaliseMix(m: MixInput): Mix {
  const named = KINDS.some((k) => m[k] !== undefined);
  const kinds = named ? { direct: m.direct ?? 0, group: m.group ?? 0, channel: m.channel ?? 0 } : DEFAULT_KINDS;
  const edit = m.edit ?? 0;
  const react = m.react ?? 0;
  const send = m.send ?? 1 - edit - react;
  if (send < -1e-9) throw new OptionsError('--mix: edit + react exceed 1 without send=');
  const ops = Math.max(0, send) + edit + react;
  if (ops <= 0) throw new OptionsError('--mix: at least one of send, edit, react must be > 0');
  return { ...kinds, edit: edit / ops, react: react / ops };
}

/** Parses `direct=0.3,group=0.6,channel=0.1,edit=5%,react=5%` (any subset; `50%` works). */
export function parseMix(spec: string): Mix {
  const mix: MixInput = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!([...KINDS, ...CHANGES, 'send'] as (string | undefined)[]).includes(k)) throw new OptionsError(`--mix: unknown kind "${k}"`);
    const n = Number(v?.replace(/%$/, ''));
    if (!Number.isFinite(n) || n < 0) throw new OptionsError(`--mix: bad share for ${k}`);
    mix[k as keyof MixInput] = v?.endsWith('%') ? n / 100 : n;
  }
  return normaliseMix(mix);
}

const share = z.number().min(0);
const mixError = (ctx: z.core.$RefinementCtx, err: unknown) => {
  ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^--mix: /, '') });
  return z.NEVER;
};
/** Shares of the aggregate rate; normalised, kinds with share 0 are not created. */
const MixSchema = z
  .union([
    z.string().transform((s, ctx) => {
      try {
        return parseMix(s);
      } catch (err) {
        return mixError(ctx, err);
      }
    }),
    z
      .strictObject({ direct: share.optional(), group: share.optional(), channel: share.optional(), send: share.optional(), edit: share.optional(), react: share.optional() })
      .transform((m, ctx) => {
        try {
          return normaliseMix(m);
        } catch (err) {
          return mixError(ctx, err);
        }
      }),
  ])
  .pipe(
    z
      .object({ direct: share, group: share, channel: share, edit: share.max(1), react: share.max(1) })
      .refine((m) => m.direct + m.group + m.channel > 0, 'at least one share must be > 0'),
  );

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => numeric(z.number().int().min(min).max(max));
const fraction = numeric(z.number().min(0).max(1));
const positive = numeric(z.number().positive());

const RampShape = {
  start: flag(positive.default(250), { flag: 'ramp-start', arg: 'n', help: 'first rate, sends/s', group: 'Step ramp (--scenario ramp)' }),
  factor: flag(numeric(z.number().gt(1)).default(1.25), { flag: 'ramp-factor', arg: 'f', help: 'rate multiplier per step (1.25 = +25 %)' }),
  max: flag(positive.default(50_000), { flag: 'ramp-max', arg: 'n', help: 'highest rate tried, sends/s' }),
  stepSeconds: flag(seconds(0.001).default(8), { flag: 'step-duration', arg: 't', help: 'sending time per step', unit: 's' }),
  settleMs: flag(numeric(z.number().min(0)).default(2_000), { flag: 'ramp-settle', arg: 'ms', help: 'quiet time after each step for late deliveries' }),
  warmupSeconds: flag(seconds(0).default(5), { flag: 'ramp-warmup', arg: 't', help: 'sending at the start rate before the first step, not judged', unit: 's' }),
  retries: flag(int(0).default(1), { flag: 'ramp-retries', arg: 'n', help: 'a failed step is tried again this many times before the ramp stops' }),
  p99LimitMs: flag(positive.default(100), { flag: 'p99-limit', arg: 'ms', help: 'send→deliver p99 a step may reach' }),
  lossLimit: flag(fraction.default(0.001), { flag: 'loss-limit', arg: 'f', help: 'undelivered fraction a step may reach' }),
  /** A step also fails when fewer than this fraction of the target rate was accepted. */
  minAcceptedShare: fraction.default(0.95),
};

/** Every option of a load run. */
export const LOAD_SHAPE = {
  urls: flag(list(z.array(z.url({ protocol: /^https?$/, error: 'not an http(s) URL' })).min(1)).default(['http://127.0.0.1:3000']), {
    flag: 'url',
    arg: 'a,b,...',
    help: 'gateway base URLs; users spread round robin',
    group: 'Target',
    env: 'LOADTEST_URL',
    shownDefault: 'http://127.0.0.1:3000, or $LOADTEST_URL',
  }),
  jwtSecret: flag(z.string().min(1, 'required (or JWT_SECRET in the environment)'), {
    flag: 'jwt-secret',
    arg: 's',
    help: 'HS256 secret of the gateways',
    env: 'JWT_SECRET',
    shownDefault: '$JWT_SECRET',
  }),
  scenario: flag(z.enum(['steady', 'ramp', 'idle', 'storm']).default('steady'), {
    flag: 'scenario',
    alias: 'mode',
    arg: 's',
    help: 'steady (--rate for --duration) | ramp (highest sustainable rate) | idle (hold sockets) | storm (spawns 2 nodes, stops one)',
    group: 'Scenario',
  }),
  stormSignal: flag(z.enum(['SIGTERM', 'SIGKILL']).default('SIGTERM'), {
    flag: 'storm-signal',
    arg: 'sig',
    help: 'storm: how node A stops: SIGTERM (drains with server:draining) | SIGKILL',
  }),
  stormRate: flag(positive.default(20), { flag: 'storm-rate', arg: 'n', help: 'storm: sends/s into the storm users\' conversations while they reconnect' }),
  stormGenerators: flag(int(1).optional(), { flag: 'storm-generators', arg: 'n', help: 'storm: processes the storm clients are spread over', shownDefault: '1 per 2,500 sockets, at most 4' }),
  stormNice: flag(int(0, 19).optional(), {
    flag: 'storm-generator-nice',
    arg: 'n',
    help: 'storm: nice value of the generator processes, so that on a machine they share with the nodes the kernel runs the nodes first',
    shownDefault: '0',
  }),
  stormWarmup: flag(int(0).default(500), {
    flag: 'storm-warmup',
    arg: 'n',
    help: 'storm: throwaway clients node B serves before the stop (connect, create a group, sync, leave), so it meets the storm warm as a surviving node would; 0 = cold',
  }),
  stormProfile: flag(z.string().optional(), { flag: 'storm-profile', arg: 'dir', help: 'storm: write a CPU profile of node B (node --cpu-prof) to dir' }),
  users: flag(int(2).default(200), { flag: 'users', arg: 'n', help: 'simulated users, one socket each', group: 'Population' }),
  connectRate: flag(positive.default(500), { flag: 'connect-rate', arg: 'n', help: 'sockets opened per second' }),
  /** Sockets whose handshake may be in flight at once. */
  connectConcurrency: int(1).default(100),
  groupSize: flag(int(2, 1_000).default(10), { flag: 'group-size', arg: 'k', help: 'members per group' }),
  channelSize: flag(int(0).default(200), { flag: 'channel-size', arg: 'm', help: 'members of the one large channel, 0 = none (capped at --users)' }),
  channelPosters: flag(int(1).default(5), { flag: 'channel-posters', arg: 'p', help: 'channel owner + admins who post' }),
  mix: flag(MixSchema.default({ ...DEFAULT_KINDS, edit: 0, react: 0 }), {
    flag: 'mix',
    arg: 'spec',
    help: 'share of sends per conversation kind (missing kinds get 0), and of edits and reactions in all operations: edit=5%,react=5% (or send=90,edit=5,react=5)',
    shownDefault: 'direct=0.3,group=0.6,channel=0.1',
  }),
  rate: flag(positive.default(1_000), { flag: 'rate', arg: 'n', help: 'aggregate operations/s (steady): sends, plus edits and reactions per --mix', group: 'Traffic' }),
  duration: flag(seconds(0.001).default(30), { flag: 'duration', arg: 't', help: 'sending (steady) or holding (idle) time: 30, 30s, 2m', unit: 's' }),
  warmupSeconds: flag(seconds(0).default(0), {
    flag: 'warmup',
    arg: 't',
    help: 'steady: sending at --rate this long before --duration; rate, latency and gateway CPU are measured after it (loss over both)',
    unit: 's',
  }),
  pattern: flag(z.enum(['uniform', 'poisson', 'bursty']).default('uniform'), { flag: 'pattern', arg: 'p', help: 'per-user pattern: uniform | poisson | bursty' }),
  burstSize: flag(int(1).default(5), { flag: 'burst-size', arg: 'n', help: 'messages per burst with --pattern bursty' }),
  messageChars: flag(int(1, 4_000).default(100), { flag: 'message-chars', arg: 'n', help: 'text length' }),
  receiptSample: flag(fraction.default(0.2), { flag: 'receipt-sample', arg: 'f', help: 'fraction of clients sending delivered/read receipts' }),
  receiptIntervalMs: flag(positive.default(2_000), { flag: 'receipt-interval', arg: 'ms', help: 'how often such a client reports its watermark' }),
  readRatio: flag(fraction.default(0.5), { flag: 'read-ratio', arg: 'f', help: 'chance that a delivered report comes with a read report' }),
  transports: flag(list(z.array(z.enum(['websocket', 'polling'])).min(1)).default(['websocket']), {
    flag: 'transports',
    arg: 'list',
    help: 'websocket, or polling,websocket',
  }),
  ackTimeoutMs: flag(positive.default(10_000), { flag: 'ack-timeout', arg: 'ms', help: 'a send without ack after this is a TIMEOUT and is retried' }),
  /** Attempts per send for retryable errors (TIMEOUT, UNAVAILABLE, RATE_LIMITED, INTERNAL). */
  sendAttempts: int(1).default(3),
  maxInFlight: flag(int(1).default(20_000), { flag: 'max-in-flight', arg: 'n', help: 'sends awaiting an ack beyond which new sends are skipped' }),
  ramp: z.object(RampShape).prefault({}),
  drainMs: flag(seconds(0, 1_000).default(10_000), {
    flag: 'drain',
    arg: 't',
    help: 'wait for outstanding acks/deliveries after sending',
    group: 'Run',
    shownDefault: '10s',
  }),
  verify: flag(z.boolean().default(true), { flag: 'no-verify', negate: true, help: 'skip the end-of-run check against history' }),
  scrapeIntervalMs: flag(numeric(z.number().min(0)).default(1_000), { flag: 'scrape-interval', arg: 'ms', help: '/metrics scrape period, 0 = off' }),
  hardDeadlineSeconds: flag(seconds(1).default(1_800), { flag: 'deadline', arg: 't', help: 'hard stop of the whole run', unit: 's' }),
  runId: flag(z.string().regex(/^[A-Za-z0-9_-]{1,24}$/, '1-24 characters of [A-Za-z0-9_-]').default(newRunId), {
    flag: 'run-id',
    arg: 'id',
    help: 'prefix of user ids and clientMsgIds',
    shownDefault: 'random',
  }),
  progress: flag(z.boolean().default(true), { flag: 'quiet', negate: true, help: 'no progress line on stderr' }),
};

export const LoadOptionsSchema = z.object(LOAD_SHAPE).superRefine((o, ctx) => {
  if (o.ramp.max < o.ramp.start) ctx.addIssue({ code: 'custom', path: ['ramp', 'max'], message: `must be at least --ramp-start (${o.ramp.start})` });
});

export type LoadOptions = z.output<typeof LoadOptionsSchema>;
/** What a caller passes: every option optional but `jwtSecret`; numbers and durations also as text. */
export type LoadOptionsInput = z.input<typeof LoadOptionsSchema>;
export type Scenario = LoadOptions['scenario'];
/** How one user's sends are spaced: evenly, as a Poisson process, or in bursts. */
export type SendPattern = LoadOptions['pattern'];
export type TrafficMix = LoadOptions['mix'];
export type RampOptions = LoadOptions['ramp'];

/** Every option with its default filled in, validated; throws OptionsError naming the flag. */
export function resolveOptions(input: LoadOptionsInput): LoadOptions {
  return validate(LoadOptionsSchema, input);
}
