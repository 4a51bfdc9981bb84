// Pure parts of the load generator: option parsing, the population plan, delivery bookkeeping
// (duplicates, deliveries before the ack, gaps) and the Prometheus text parser.
import { describe, expect, it } from 'vitest';
import type { Message } from '../protocol/index.js';
import { parseVariants } from './bench-variants.js';
import { OptionsError, parseMix, parseSeconds, resolveOptions } from './options.js';
import { planConversations, toConvInfo } from './population.js';
import { metricValue } from './scrape.js';
import { Stats } from './stats.js';
import { Tracker } from './tracker.js';

describe('options', () => {
  it('parses mixes, durations and rejects nonsense', () => {
    expect(parseMix('direct=0.5,channel=50%')).toEqual({ direct: 0.5, group: 0, channel: 0.5 });
    expect(() => parseMix('dm=1')).toThrow(OptionsError);
    expect(parseSeconds('2m', '--duration')).toBe(120);
    expect(parseSeconds('500ms', '--duration')).toBe(0.5);
    expect(parseSeconds('7', '--duration')).toBe(7);
    expect(() => resolveOptions({ urls: ['ftp://x'], jwtSecret: 's' })).toThrow(/--url/);
    expect(() => resolveOptions({ urls: ['http://127.0.0.1:1'], jwtSecret: '' })).toThrow(/jwt-secret/);
    const o = resolveOptions({ urls: ['http://127.0.0.1:1'], jwtSecret: 's', ramp: { start: 10 } });
    expect(o.ramp.start).toBe(10);
    expect(o.ramp.factor).toBeGreaterThan(1);
  });

  it('parses benchmark variants with server env and client transports', () => {
    expect(parseVariants('pipeline;relay:RELAY_MODE=1;poll:WORKER_CONCURRENCY=8 LT_TRANSPORTS=polling,websocket')).toEqual([
      { name: 'pipeline', env: {} },
      { name: 'relay', env: { RELAY_MODE: '1' } },
      { name: 'poll', env: { WORKER_CONCURRENCY: '8' }, transports: ['polling', 'websocket'] },
    ]);
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

describe('metrics scrape', () => {
  it('reads a labelled sample from Prometheus text', () => {
    const text = '# HELP x\nnodejs_eventloop_lag_p99_seconds{node="a"} 0.0213\nprocess_resident_memory_bytes{node="a"} 1.5e8\n';
    expect(metricValue(text, 'nodejs_eventloop_lag_p99_seconds')).toBe(0.0213);
    expect(metricValue(text, 'process_resident_memory_bytes')).toBe(150_000_000);
    expect(metricValue(text, 'gateway_sockets_connected')).toBeUndefined();
  });
});
