// Presence across nodes (§9) on real Redis and PostgreSQL: online and offline seen from the other
// node, a SIGKILLed node's users offline within the heartbeat bound (a short heartbeat set by
// env, so the bound is 4 × 300 ms here instead of 60 s), the watched-set bound, and the privacy
// setting. Every wait is on an event or an ack, never a sleep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../protocol/index.js';
import { call, raw } from './support/chat.js';
import { connectClient, record } from './support/clients.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { client } from './support/http.js';

const HEARTBEAT_MS = 300;
let cluster: Cluster;
const uid = (name: string) => `${name}-${process.pid}-${Date.now().toString(36)}`;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { PRESENCE_HEARTBEAT_MS: String(HEARTBEAT_MS) } });
});
afterAll(async () => {
  await cluster?.close();
});

describe('presence across two nodes', () => {
  it('a user connecting on node 1 is online to a watcher on node 0 within 1 s, and offline with lastSeenAt when the last socket closes', async () => {
    const alice = uid('alice');
    const bob = uid('bob');
    const watcher = await cluster.connect(alice, 0);
    const events = record(watcher, 'presence');
    expect(await call(watcher, 'presence:subscribe', { userIds: [bob] })).toEqual({ presence: [{ userId: bob, online: false }] });

    const connectedAt = Date.now();
    const bob1 = await cluster.connect(bob, 1);
    await events.until((xs) => xs.some((p) => p.userId === bob && p.online), 1_000);
    expect(Date.now() - connectedAt).toBeLessThan(1_000);
    expect((await call(watcher, 'presence:subscribe', { userIds: [bob] })).presence).toEqual([{ userId: bob, online: true }]);

    // A second socket on the other node: still online when the first closes, no offline event.
    const bob0 = await cluster.connect(bob, 0);
    bob1.close();
    // The count on node 1 drops; a fresh lookup (answered after that write or not) must stay online.
    await expect.poll(async () => (await call(watcher, 'presence:subscribe', { userIds: [bob] })).presence[0]!.online).toBe(true);
    bob0.close();
    await events.until((xs) => xs.some((p) => p.userId === bob && !p.online));
    const offline = events.items.filter((p) => p.userId === bob && !p.online);
    expect(offline).toHaveLength(1);
    expect(Date.parse(offline[0]!.lastSeenAt!)).toBeGreaterThanOrEqual(connectedAt);
    const [now] = (await call(watcher, 'presence:subscribe', { userIds: [bob] })).presence;
    expect(now).toEqual({ userId: bob, online: false, lastSeenAt: offline[0]!.lastSeenAt });
  });

  it('a SIGKILLed node stops counting: its users go offline within 4 heartbeats', async () => {
    const carol = uid('carol');
    const dave = uid('dave');
    const doomed = await cluster.spawnNode({ ROLE: 'all', PRESENCE_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    const watcher = await cluster.connect(carol, 0);
    const events = record(watcher, 'presence');
    await call(watcher, 'presence:subscribe', { userIds: [dave] });
    await connectClient(doomed.url, cluster.token(dave));
    await events.until((xs) => xs.some((p) => p.userId === dave && p.online));

    doomed.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await events.until((xs) => xs.some((p) => p.userId === dave && !p.online), 10_000);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(4 * HEARTBEAT_MS + 1_000);
    expect((await call(watcher, 'presence:subscribe', { userIds: [dave] })).presence[0]!.online).toBe(false);
  });

  it(`refuses a watched set over ${LIMITS.presenceSubscribeMax} users with INVALID_ARGUMENT and keeps the previous set`, async () => {
    const erin = uid('erin');
    const frank = uid('frank');
    const watcher = await cluster.connect(erin, 1);
    const events = record(watcher, 'presence');
    await call(watcher, 'presence:subscribe', { userIds: [frank] });
    const tooMany = Array.from({ length: LIMITS.presenceSubscribeMax + 1 }, (_, i) => `u${i}`);
    const res = await raw(watcher, 'presence:subscribe', { userIds: tooMany });
    expect(res).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(JSON.stringify(res)).toContain('userIds');
    // Still watching frank: his connection is reported.
    await cluster.connect(frank, 0);
    await events.until((xs) => xs.some((p) => p.userId === frank && p.online));
  });

  it('a user who hides presence is offline to others (no events, no lastSeenAt), and shows again when turned back on', async () => {
    const gina = uid('gina');
    const hank = uid('hank');
    const watcher = await cluster.connect(gina, 0);
    const events = record(watcher, 'presence');
    await call(watcher, 'presence:subscribe', { userIds: [hank] });
    const hankRest = client(cluster.nodes[1]!.url, cluster.token(hank));
    const hank1 = await cluster.connect(hank, 1);
    await events.until((xs) => xs.some((p) => p.userId === hank && p.online));

    expect((await hankRest.put('/v1/me/settings', { presence: false })).body).toEqual({ readReceipts: true, presence: false });
    await events.until((xs) => xs.at(-1)?.userId === hank && xs.at(-1)?.online === false);
    expect(events.items.at(-1)).toEqual({ userId: hank, online: false });
    expect((await call(watcher, 'presence:subscribe', { userIds: [hank] })).presence).toEqual([{ userId: hank, online: false }]);
    // Hidden: closing and reopening sockets tells nobody.
    const before = events.items.length;
    hank1.close();
    const hank0 = await cluster.connect(hank, 0);
    expect((await hankRest.get('/v1/me/settings')).body).toEqual({ readReceipts: true, presence: false });

    expect((await hankRest.put('/v1/me/settings', { presence: true })).status).toBe(200);
    await events.until((xs) => xs.length > before && xs.at(-1)?.online === true);
    expect(events.items.slice(before)).toEqual([{ userId: hank, online: true }]);
    hank0.close();
  });

  it('settings updates are validated: an empty or unknown body is INVALID_ARGUMENT and changes nothing', async () => {
    const ivan = uid('ivan');
    const rest = client(cluster.nodes[0]!.url, cluster.token(ivan));
    expect((await rest.put('/v1/me/settings', {})).status).toBe(400);
    expect((await rest.put('/v1/me/settings', { presence: 'no' })).status).toBe(400);
    expect((await rest.put('/v1/me/settings', { presence: false, extra: 1 })).status).toBe(400);
    expect((await rest.get('/v1/me/settings')).body).toEqual({ readReceipts: true, presence: true });
  });
});
