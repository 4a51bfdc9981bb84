// The two connection limits the README documents: the handshake rate limit per IP (held across
// nodes, answered with RATE_LIMITED and retryAfterMs in connect_error.data) and
// MAX_CONNECTIONS_PER_USER (sockets per user per node).
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, type ClientSocket, type ConnectError } from './support/clients.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { mintToken } from './support/tokens.js';

const clusters: Cluster[] = [];
const sockets: ClientSocket[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(clusters.map((c) => c.close()));
});

/** Connects, or resolves with the connect_error. */
async function attempt(url: string, userId: string, token = mintToken(userId)): Promise<ClientSocket | ConnectError> {
  try {
    const socket = await connectClient(url, token);
    sockets.push(socket);
    return socket;
  } catch (err) {
    return err as ConnectError;
  }
}

const refused = (r: ClientSocket | ConnectError): r is ConnectError => r instanceof Error;

describe('handshake rate limit', () => {
  it('holds one IP to its budget across both nodes and answers RATE_LIMITED with retryAfterMs', async () => {
    // Scale 0.05: 5 handshakes per 10 s window per IP (the default is 100).
    const cluster = await startCluster({ nodes: 2, env: { RATE_LIMIT_SCALE: '0.05' } });
    clusters.push(cluster);
    const started = Date.now();
    const results: (ClientSocket | ConnectError)[] = [];
    // Failed handshakes (§7: counted per IP; successful ones per user), alternating nodes: the
    // limit is per IP and cluster-wide. Within budget they are UNAUTHENTICATED, then RATE_LIMITED.
    for (let i = 0; i < 12; i++) results.push(await attempt(cluster.nodes[i % 2]!.url, `hs-${i}`, 'not-a-jwt'));
    // All of it inside one 10 s window, or the count below would span two.
    expect(Date.now() - started).toBeLessThan(10_000);

    const accepted = results.filter((r) => refused(r) && r.data?.code === 'UNAUTHENTICATED');
    const refusals = results.filter(refused).filter((r) => r.data?.code !== 'UNAUTHENTICATED');
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThanOrEqual(5);
    expect(refusals.length).toBe(results.length - accepted.length);
    for (const r of refusals) {
      expect(r.data).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
      expect(r.data!.retryAfterMs).toBeGreaterThan(0);
      expect(r.data!.retryAfterMs).toBeLessThanOrEqual(10_000);
    }
    // Refused on both nodes, not only on the one that spent its share.
    const refusedOn = new Set(results.flatMap((r, i) => (refusals.includes(r as ConnectError) ? [i % 2] : [])));
    expect(refusedOn).toEqual(new Set([0, 1]));
  });
});

describe('MAX_CONNECTIONS_PER_USER', () => {
  it('refuses a user\'s socket over the cap on a node, counts per node, and frees a slot on disconnect', async () => {
    const cluster = await startCluster({ nodes: 2, env: { MAX_CONNECTIONS_PER_USER: '2' } });
    clusters.push(cluster);
    const [a, b] = [cluster.nodes[0]!, cluster.nodes[1]!];
    const first = await attempt(a.url, 'cap-user');
    const second = await attempt(a.url, 'cap-user');
    expect(refused(first) || refused(second)).toBe(false);

    const third = await attempt(a.url, 'cap-user');
    expect(refused(third)).toBe(true);
    expect((third as ConnectError).data).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    expect((third as ConnectError).message).toMatch(/too many connections/);
    // Another user on the same node, and the same user on the other node, are not affected.
    expect(refused(await attempt(a.url, 'cap-other'))).toBe(false);
    expect(refused(await attempt(b.url, 'cap-user'))).toBe(false);

    // Once the node has seen one of them go, there is room again.
    const leaving = first as ClientSocket;
    const serverSide = a.app.io!.of('/').sockets.get(leaving.id!)!;
    const gone = new Promise((resolve) => serverSide.once('disconnect', resolve));
    leaving.close();
    await gone;
    expect(refused(await attempt(a.url, 'cap-user'))).toBe(false);
    expect(refused(await attempt(a.url, 'cap-user'))).toBe(true);
  });

  it('holds under parallel handshakes of one user: exactly the cap connect, the rest are refused', async () => {
    const cluster = await startCluster({ nodes: 1, env: { MAX_CONNECTIONS_PER_USER: '2' } });
    clusters.push(cluster);
    // Six at once: each awaits the rate limit and the rooms lookup between the check and the
    // connection, so a cap counted only on connection lets all of them through.
    const results = await Promise.all(Array.from({ length: 6 }, () => attempt(cluster.nodes[0]!.url, 'par-user')));
    expect(results.filter((r) => !refused(r))).toHaveLength(2);
    for (const r of results.filter(refused)) expect(r.data).toMatchObject({ code: 'RATE_LIMITED' });
    // The refused ones gave their slot back: after one connected socket leaves, one more fits.
    const leaving = results.find((r) => !refused(r)) as ClientSocket;
    const serverSide = cluster.nodes[0]!.app.io!.of('/').sockets.get(leaving.id!)!;
    const gone = new Promise((resolve) => serverSide.once('disconnect', resolve));
    leaving.close();
    await gone;
    expect(refused(await attempt(cluster.nodes[0]!.url, 'par-user'))).toBe(false);
    expect(refused(await attempt(cluster.nodes[0]!.url, 'par-user'))).toBe(true);
  });
});
