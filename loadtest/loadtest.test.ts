// Pure parts of the load generator: option parsing, the population plan, delivery bookkeeping
// (duplicates, deliveries before the ack, gaps) and the Prometheus text parser.
import { describe, expect, it } from 'vitest';
import type { Message } from '../protocol/index.js';
import { helpText, OptionsError, readFlags, toSeconds, validate } from './flags.js';
import { LOAD_SHAPE, LoadOptionsSchema, parseMix, resolveOptions } from './options.js';
import { planConversations, toConvInfo } from './population.js';
import { metricValue } from './scrape.js';
import { Stats, summarize } from './stats.js';
import { Tracker } from './tracker.js';

describe('options', () => {
  const base = { urls: ['http://127.0.0.1:1'], jwtSecret: 's' };
  const fromArgv = (...argv: string[]) => validate(LoadOptionsSchema, { jwtSecret: 's', ...readFlags(LOAD_SHAPE, argv).raw });

  it('parses mixes, durations and rejects nonsense', () => {
    expect(parseMix('direct=0.5,channel=50%')).toEqual({ direct: 0.5, group: 0, channel: 0.5, edit: 0, react: 0 });
    expect(() => parseMix('dm=1')).toThrow(OptionsError);
    // Edits and reactions: fractions of all operations (sends get the rest), or weights beside send=.
    expect(parseMix('group=1,edit=5%,react=10%')).toEqual({ direct: 0, group: 1, channel: 0, edit: 0.05, react: 0.1 });
    expect(parseMix('send=90,edit=5,react=5')).toEqual({ direct: 0.3, group: 0.6, channel: 0.1, edit: 0.05, react: 0.05 });
    expect(parseMix('send=0,react=1')).toMatchObject({ edit: 0, react: 1 });
    expect(() => parseMix('edit=0.7,react=0.7')).toThrow(/edit \+ react exceed 1/);
    expect(() => parseMix('send=0')).toThrow(/at least one of send, edit, react/);
    expect(toSeconds('2m')).toBe(120);
    expect(toSeconds('500ms')).toBe(0.5);
    expect(toSeconds('7')).toBe(7);
    expect(toSeconds('soon')).toBeUndefined();
    expect(() => resolveOptions({ urls: ['ftp://x'], jwtSecret: 's' })).toThrow(/--url: not an http\(s\) URL/);
    expect(() => resolveOptions({ urls: ['http://127.0.0.1:1'], jwtSecret: '' })).toThrow(/--jwt-secret/);
    const o = resolveOptions({ ...base, ramp: { start: 10 } });
    expect(o.ramp.start).toBe(10);
    expect(o.ramp.factor).toBeGreaterThan(1);
  });

  it('turns each flag into its option, with units, and the result resolves to itself', () => {
    const o = fromArgv('--users', '12', '--drain', '3s', '--duration', '2m', '--mix', 'group=1', '--transports', 'polling,websocket', '--step-duration', '500ms', '--no-verify', '--quiet', '--mode', 'ramp');
    expect(o).toMatchObject({ users: 12, drainMs: 3_000, duration: 120, mix: { direct: 0, group: 1, channel: 0, edit: 0, react: 0 }, transports: ['polling', 'websocket'], verify: false, progress: false, scenario: 'ramp' });
    expect(o.ramp.stepSeconds).toBe(0.5);
    expect(resolveOptions(o)).toEqual(o);
    expect(fromArgv('--warmup', '5s').warmupSeconds).toBe(5);
    expect(fromArgv().warmupSeconds).toBe(0);
    const changes = fromArgv('--mix', 'direct=1,edit=10%,react=20%');
    expect(changes.mix).toEqual({ direct: 1, group: 0, channel: 0, edit: 0.1, react: 0.2 });
    expect(resolveOptions(changes)).toEqual(changes);
    // Library callers give milliseconds where the CLI takes a duration.
    expect(resolveOptions({ ...base, drainMs: 2_500 }).drainMs).toBe(2_500);
  });

  it('names the flag of a bad value, including cross-field and nested ones', () => {
    expect(() => fromArgv('--users', '1')).toThrow(/^--users: /);
    expect(() => fromArgv('--users', 'many')).toThrow(/^--users: /);
    expect(() => fromArgv('--duration', 'soon')).toThrow(/^--duration: not a duration/);
    expect(() => fromArgv('--ramp-start', '500', '--ramp-max', '100')).toThrow(/^--ramp-max: must be at least --ramp-start/);
    expect(() => fromArgv('--mix', 'dm=1')).toThrow(/^--mix: unknown kind "dm"/);
    expect(() => fromArgv('--mix', 'direct=0')).toThrow(/^--mix: at least one share/);
    expect(() => fromArgv('--transports', 'carrier-pigeon')).toThrow(/^--transports: /);
    expect(() => fromArgv('--no-such-flag')).toThrow(OptionsError);
  });

  it('generates the help from the same declarations: every flag, its group and its default', () => {
    const help = helpText(LOAD_SHAPE);
    expect(help).toMatch(/^Target:\n {2}--url <a,b,...> +gateway base URLs.*\(default http:\/\/127\.0\.0\.1:3000, or \$LOADTEST_URL\)$/m);
    expect(help).toMatch(/^ {2}--users <n> +simulated users, one socket each \(default 200\)$/m);
    expect(help).toMatch(/^ {2}--duration <t> .*\(default 30s\)$/m);
    expect(help).toMatch(/^ {2}--mix <spec> .*\(default direct=0\.3,group=0\.6,channel=0\.1\)$/m);
    expect(help).toMatch(/^Step ramp \(--scenario ramp\):\n {2}--ramp-start <n>/m);
    expect(help).toMatch(/^ {2}--no-verify +skip the end-of-run check/m);
    // Library-only options have no flag.
    expect(help).not.toMatch(/send-attempts|connect-concurrency|min-accepted/);
  });
});

describe('population plan', () => {
  it('pairs users, partitions them into groups, and makes one channel with a few posters', () => {
    const plan = planConversations({ users: 11, mix: { direct: 1, group: 1, channel: 1 }, groupSize: 4, channelSize: 8, channelPosters: 2 });
    const directs = plan.filter((p) => p.kind === 'direct');
    const groups = plan.filter((p) => p.kind === 'group');
    const channels = plan.filter((p) => p.kind === 'channel');
    expect(directs).toHaveLength(5);
    expect(groups.map((g) => g.members.length)).toEqual([4, 4, 3]);
    expect(channels).toHaveLength(1);
    expect(channels[0]!.members).toHaveLength(8);
    expect(channels[0]!.posters).toEqual([0, 1]);
  });

  it('folds a lone leftover user into the previous group and skips kinds with no traffic', () => {
    const plan = planConversations({ users: 9, mix: { direct: 0, group: 1, channel: 0 }, groupSize: 4, channelSize: 8, channelPosters: 2 });
    expect(plan.map((p) => p.members.length)).toEqual([4, 5]);
  });
});

describe('tracker', () => {
  const conv = toConvInfo('c1', { kind: 'group', members: [0, 1, 2], creator: 0, posters: [0, 1, 2] });
  const msg = (clientMsgId: string, id = `id-${clientMsgId}`): Message => ({
    id,
    conversationId: 'c1',
    seq: 7,
    senderId: 'u0',
    clientMsgId,
    kind: 'text',
    text: 'x',
    createdAt: new Date().toISOString(),
  });

  it('counts deliveries that arrive before the ack, duplicates, and what is still missing', () => {
    const stats = new Stats();
    const t = new Tracker('run1', stats);
    const rec = t.register(conv, 0, 'run1-0-a', 0, 0);
    expect(t.onMessage(1, msg('run1-0-a'), 'live', 5)).toBe(true); // before the ack
    t.onAck(rec, msg('run1-0-a'), 3);
    expect(t.outstandingPairs()).toBe(2);
    t.onMessage(1, msg('run1-0-a'), 'live', 6);
    expect(stats.duplicateDeliveries).toBe(1);
    t.onMessage(0, msg('run1-0-a'), 'live', 6); // the sender's echo: a delivery without latency
    expect(stats.deliveries).toBe(2);
    expect(stats.deliver.totalCount).toBe(1);
    expect([...t.gaps().keys()]).toEqual([2]);
    t.onMessage(2, msg('run1-0-a'), 'sync', 9);
    expect(t.outstandingPairs()).toBe(0);
    expect(stats.syncRecovered).toBe(1);
    expect(t.totals()).toEqual({ acked: 1, expectedPairs: 3, deliveredPairs: 3, incompleteMessages: 0 });
  });

  it('flags one clientMsgId seen with two message ids, and ignores other runs', () => {
    const t = new Tracker('run1', new Stats());
    const rec = t.register(conv, 0, 'run1-0-b', 0, 0);
    t.onAck(rec, msg('run1-0-b', 'first'), 1);
    t.onMessage(1, msg('run1-0-b', 'second'), 'live', 2);
    expect(t.storageDuplicatesLive).toBe(1);
    expect(t.onMessage(1, msg('run2-0-b'), 'live', 2)).toBe(false);
  });
});

describe('stats', () => {
  it('measures from the end of a warm-up: rates and latencies restart, errors are kept', () => {
    const stats = new Stats();
    stats.onAttempt();
    stats.onAck(500);
    stats.onDelivery(600);
    stats.error('TIMEOUT');
    stats.startMeasuring();
    stats.onAttempt();
    stats.onAck(5);
    expect({ attempted: stats.attempted, acked: stats.acked, deliveries: stats.deliveries, errors: stats.errorsObject() }).toEqual({
      attempted: 1,
      acked: 1,
      deliveries: 0,
      errors: { TIMEOUT: 1 },
    });
    expect(summarize(stats.ack)).toMatchObject({ count: 1, max: 5 });
    expect(stats.deliver.totalCount).toBe(0);
  });
});

describe('metrics scrape', () => {
  it('reads a labelled sample from Prometheus text', () => {
    const text = '# HELP x\nnodejs_eventloop_lag_p99_seconds{node="a"} 0.0213\nprocess_resident_memory_bytes{node="a"} 1.5e8\n';
    expect(metricValue(text, 'nodejs_eventloop_lag_p99_seconds')).toBe(0.0213);
    expect(metricValue(text, 'process_resident_memory_bytes')).toBe(150_000_000);
    expect(metricValue(text, 'gateway_sockets_connected')).toBeUndefined();
  });
});
