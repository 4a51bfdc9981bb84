// The client library (client/, issue 20) against a real two-node cluster: the app-visible stream
// of each conversation must hold every acknowledged message exactly once, in seq order, with no
// hole: exactly the conversation's history as the store holds it. Under 5 interleaved senders,
// network drops during sends both ways, a node SIGKILLed mid-stream, a Redis restart, and a
// client restarted with sends still pending in its outbox.
import { describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { createClient, localStorageOutbox, type ClientOptions, type PendingSend, type RelaygateClient, type StorageLike } from '../../client/src/index.js';
import { balancer } from './support/balancer.js';
import { clientLibResources } from './support/client-lib.js';
import { startCluster } from './support/cluster.js';
import { startPrivateRedis } from './support/redis-server.js';
import { mintToken } from './support/tokens.js';

const { clusters, clients, servers, redises } = clientLibResources();

function client(url: string, userId: string, extra: Partial<ClientOptions> = {}): RelaygateClient {
  const c = createClient({
    url,
    token: () => mintToken(userId),
    reconnect: { minMs: 100, maxMs: 1_000 },
    gapWaitMs: 200,
    callTimeoutMs: 5_000,
    ...extra,
  });
  clients.push(c);
  return c;
}

/** Resolves once `check` holds, re-checked whenever `on` fires (no sleeps). */
function when(on: (wake: () => void) => () => void, check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => (off(), reject(new Error(`timed out: ${what}`))), timeoutMs);
    const off = on(() => {
      if (!check()) return;
      clearTimeout(t);
      off();
      resolve();
    });
  });
}

const online = (c: RelaygateClient) => when((wake) => c.on('state', wake), () => c.state === 'online', 'online');

/** What the app sees of one conversation through `subscribe`. */
function watch(c: RelaygateClient, conversationId: string) {
  const seen: Message[] = [];
  const wakers = new Set<() => void>();
  const wakeAll = () => wakers.forEach((w) => w());
  const caughtUpChanges: boolean[] = [];
  const sub = c.subscribe(conversationId, {
    onMessage: (m) => (seen.push(m), wakeAll()),
    onCaughtUp: (v) => (caughtUpChanges.push(v), wakeAll()),
    onDiscontinuity: (d) => {
      throw new Error(`unexpected discontinuity ${JSON.stringify(d)}`);
    },
  });
  const on = (wake: () => void) => (wakers.add(wake), () => void wakers.delete(wake));
  return {
    seen,
    sub,
    caughtUpChanges,
    /** Every id delivered, and the stream caught up. */
    hasAll: (ids: Iterable<string>, timeoutMs?: number) => {
      const want = [...ids];
      return when(on, () => sub.caughtUp && want.every((id) => seen.some((m) => m.id === id)), `stream has ${want.length} ids (has ${seen.length})`, timeoutMs);
    },
  };
}

/** The conversation as the store holds it, read through the REST helper. */
async function history(c: RelaygateClient, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let after = 0; ; ) {
    const page = await c.rest.history(conversationId, { after, limit: 200 });
    out.push(...page.messages);
    if (page.nextAfter === undefined) return out;
    after = page.nextAfter;
  }
}

/** The heart of it: the stream is exactly the stored history (in order, nothing missing, nothing twice), and holds every acked message. */
async function expectExactStream(seen: Message[], acked: Message[], sends: number, reader: RelaygateClient, conversationId: string): Promise<void> {
  const stored = await history(reader, conversationId);
  expect(new Set(seen.map((m) => m.id)).size).toBe(seen.length); // exactly once
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.seq).toBeGreaterThan(seen[i - 1]!.seq); // in order
  expect(seen.map((m) => m.id)).toEqual(stored.map((m) => m.id)); // gap-free, no other
  const ids = new Set(seen.map((m) => m.id));
  for (const m of acked) expect(ids.has(m.id), `acked ${m.id} (seq ${m.seq}) missing`).toBe(true);
  // Each send stored once: every test gives each send its own text, so a resend under a new
  // clientMsgId would show as a repeated text.
  const texts = stored.filter((m) => m.kind !== 'system');
  expect(new Set(texts.map((m) => `${m.senderId}/${m.text}`)).size).toBe(texts.length);
  expect(texts.length).toBe(sends);
}

async function group(owner: RelaygateClient, memberIds: string[], title: string): Promise<string> {
  await online(owner);
  const { conversation } = await owner.connection.call('conversation:create', { type: 'group', title, memberIds });
  return conversation.id;
}

/** A TCP balancer: each connection goes to the first backend that accepts it (a dead node's clients land on the next). */
const sendAll = (c: RelaygateClient, conversationId: string, tag: string, n: number): PendingSend[] =>
  Array.from({ length: n }, (_, i) => c.send(conversationId, { kind: 'text', text: `${tag} ${i}` }));

describe('client library on a two-node cluster', () => {
  it('5 senders interleaving on two nodes: every reader stream is the stored history, each acked message once, in seq order', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const url = (i: number) => cluster.nodes[i % 2]!.url;
    const senders = Array.from({ length: 5 }, (_, i) => client(url(i), `i-s${i}`));
    const reader = client(url(1), 'i-reader');
    const id = await group(senders[0]!, ['i-s1', 'i-s2', 'i-s3', 'i-s4', 'i-reader'], 'five senders');
    await Promise.all([...senders, reader].map(online));
    const readerStream = watch(reader, id);
    const senderStream = watch(senders[3]!, id);
    const pending = senders.flatMap((s, i) => sendAll(s, id, `s${i}`, 20));
    expect(pending.every((p) => p.clientMsgId.length > 0)).toBe(true); // returned at once, pending
    const acked = await Promise.all(pending.map((p) => p.stored));
    await readerStream.hasAll(acked.map((m) => m.id));
    await senderStream.hasAll(acked.map((m) => m.id));
    await expectExactStream(readerStream.seen, acked, 100, reader, id);
    await expectExactStream(senderStream.seen, acked, 100, reader, id);
    expect(readerStream.seen.filter((m) => m.kind === 'text')).toHaveLength(100);
  });

  it('network drops during sends, on the sender and on the reader: the stream stays exact and the sends are stored once', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const sender = client(cluster.nodes[0]!.url, 'd-sender');
    const reader = client(cluster.nodes[1]!.url, 'd-reader');
    const id = await group(sender, ['d-reader'], 'drops');
    await online(reader);
    const stream = watch(reader, id);
    const resumed = { sender: 0, reader: 0 };
    sender.connection.on('connect', ({ resumed: r }) => r && resumed.sender++);
    reader.connection.on('connect', ({ resumed: r }) => r && resumed.reader++);
    // Drop a socket's transport (as a network failure does) after every 8th stored message,
    // alternating sides; a turn later, so the sender's next send is already on the wire and its
    // ack may be lost with the connection.
    let stored = 0;
    sender.on('sent', () => {
      if (++stored % 8 !== 0) return;
      const side = (stored / 8) % 2 === 0 ? reader : sender;
      setImmediate(() => side.connection.socket.io.engine.close());
    });
    const pending = sendAll(sender, id, 'd', 60);
    const acked = await Promise.all(pending.map((p) => p.stored));
    await stream.hasAll(acked.map((m) => m.id));
    await expectExactStream(stream.seen, acked, 60, reader, id);
    expect(resumed.sender).toBeGreaterThanOrEqual(3);
    expect(resumed.reader).toBeGreaterThanOrEqual(3);
    expect(stream.caughtUpChanges.filter((v) => !v).length).toBeGreaterThanOrEqual(3); // each drop was noticed
  });

  it('a node SIGKILLed mid-stream: clients behind a balancer move to the other node, and the stream stays exact', async () => {
    const cluster = await startCluster({ nodes: 1 });
    clusters.push(cluster);
    const doomed = await cluster.spawnNode({ ROLE: 'all' });
    const url = await balancer([doomed.port, cluster.nodes[0]!.port], servers);
    const sender = client(url, 'k-sender');
    const reader = client(url, 'k-reader');
    const id = await group(sender, ['k-reader'], 'kill');
    await online(reader);
    const stream = watch(reader, id);
    let killed = false;
    let stored = 0;
    sender.on('sent', () => {
      if (++stored === 15 && !killed) {
        killed = true;
        setImmediate(() => doomed.proc.kill('SIGKILL')); // with the next send in flight
      }
    });
    const pending = sendAll(sender, id, 'k', 50);
    const acked = await Promise.all(pending.map((p) => p.stored));
    expect(killed).toBe(true);
    await doomed.exited;
    await stream.hasAll(acked.map((m) => m.id), 45_000);
    await expectExactStream(stream.seen, acked, 50, reader, id);
  }, 90_000);

  it('a Redis restart during sends: sends wait and go through after it, the stream stays exact', async () => {
    const redis = await startPrivateRedis();
    redises.push(redis);
    const cluster = await startCluster({ env: { REDIS_URL: redis.url, RATE_LIMIT_SCALE: '50' } });
    clusters.push(cluster);
    const sender = client(cluster.nodes[0]!.url, 'r-sender');
    const reader = client(cluster.nodes[1]!.url, 'r-reader');
    const id = await group(sender, ['r-reader'], 'redis restart');
    await online(reader);
    const stream = watch(reader, id);
    const first = await Promise.all(sendAll(sender, id, 'before', 10).map((p) => p.stored));
    await redis.stop();
    // Queued while Redis is down: refused UNAVAILABLE (nothing stored) and retried by the outbox.
    const during = sendAll(sender, id, 'during', 10);
    const readyz = async () => (await fetch(`${cluster.nodes[0]!.url}/readyz`)).status;
    for (const deadline = Date.now() + 15_000; (await readyz()) !== 503; ) if (Date.now() > deadline) throw new Error('readyz never failed');
    expect(sender.pending().length).toBeGreaterThan(0);
    await redis.restart();
    await cluster.addNode({ ROLE: 'worker' });
    const rest = await Promise.all([...during, ...sendAll(sender, id, 'after', 10)].map((p) => p.stored));
    const acked = [...first, ...rest];
    await stream.hasAll(acked.map((m) => m.id), 45_000);
    await expectExactStream(stream.seen, acked, 30, reader, id);
  }, 90_000);

  it('a client restarted with sends pending: the new one resends them from localStorage and each is stored once', async () => {
    const cluster = await startCluster();
    clusters.push(cluster);
    const data = new Map<string, string>();
    const storage: StorageLike = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
    const outbox = () => localStorageOutbox('relaygate.outbox.o-alice', storage);
    const first = client(cluster.nodes[0]!.url, 'o-alice', { outbox: outbox() });
    const reader = client(cluster.nodes[1]!.url, 'o-bob');
    const id = await group(first, ['o-bob'], 'restart');
    await online(reader);
    const stream = watch(reader, id);
    // The first run stops (closes) as soon as its 3rd send is stored; the rest stays in storage.
    const storedFirst: Message[] = [];
    first.on('sent', ({ message }) => {
      storedFirst.push(message);
      if (storedFirst.length === 3) first.close();
    });
    const texts = Array.from({ length: 12 }, (_, i) => `o ${i}`);
    for (const text of texts) first.send(id, { kind: 'text', text });
    await when((wake) => first.on('sent', wake), () => storedFirst.length >= 3, 'three stored');
    const left = await outbox().load();
    expect(left.length).toBe(9);
    // And a crash between the ack and forgetting it: the 3rd send is still in storage too.
    const third = storedFirst[2]!;
    await outbox().save({ clientMsgId: third.clientMsgId, conversationId: id, body: { kind: 'text', text: third.text! }, createdAt: third.createdAt });

    const second = client(cluster.nodes[1]!.url, 'o-alice', { outbox: outbox() });
    const restored = await second.restoredSends();
    expect(restored).toHaveLength(10);
    const resent = await Promise.all(restored.map((p) => p.stored));
    expect(resent.find((m) => m.clientMsgId === third.clientMsgId)?.id).toBe(third.id); // the repeat stored nothing new
    expect(await outbox().load()).toEqual([]);
    const acked = [...storedFirst, ...resent];
    await stream.hasAll(acked.map((m) => m.id));
    await expectExactStream(stream.seen, acked, 12, reader, id);
    const stored = (await history(reader, id)).filter((m) => m.kind === 'text');
    expect(stored.map((m) => m.text)).toEqual(texts); // each once, in the order they were sent
  });
});
