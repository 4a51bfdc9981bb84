// PROTOCOL.md §7 "handshakes" with TRUST_PROXY, on two gateway nodes: failed handshakes are
// limited per client IP (the forwarded address when the peer is a trusted proxy), successful
// ones per user, so an abuser flooding bad tokens from one address stops nobody else; without
// TRUST_PROXY a client cannot choose its IP with a header.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type ClientSocket, type ConnectError } from './support/clients.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { mintToken } from './support/tokens.js';

let cluster: Cluster;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  // The test client connects from 127.0.0.1 and plays the load balancer.
  cluster = await startCluster({ nodes: 2, env: { TRUST_PROXY: 'loopback', RATE_LIMIT_SCALE: '0.1' } });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await cluster?.close();
});

async function attempt(node: number, token: string | undefined, forwardedFor?: string): Promise<string> {
  try {
    const s = await connectClient(cluster.nodes[node]!.url, token, forwardedFor ? { extraHeaders: { 'x-forwarded-for': forwardedFor } } : {});
    sockets.push(s);
    return 'OK';
  } catch (err) {
    return (err as ConnectError).data?.code ?? 'ERROR';
  }
}

const tally = (codes: string[]) => Object.fromEntries([...new Set(codes)].map((c) => [c, codes.filter((x) => x === c).length]));

describe('handshake limits behind a trusted proxy (§7)', () => {
  it('an abuser flooding bad handshakes from one forwarded address is throttled; 40 valid users from other addresses all connect', async () => {
    // Scale 0.1: 10 failed handshakes per 10 s per client IP.
    const abuse = Promise.all(Array.from({ length: 60 }, (_, i) => attempt(i % 2, 'not-a-jwt', '203.0.113.66')));
    const valid = Promise.all(Array.from({ length: 40 }, (_, i) => attempt(i % 2, mintToken(`px-user-${i}`), `198.51.100.${i + 1}`)));
    const [bad, good] = await Promise.all([abuse, valid]);
    const badTally = tally(bad);
    expect(badTally.UNAUTHENTICATED).toBeLessThanOrEqual(10);
    expect(badTally.RATE_LIMITED).toBeGreaterThanOrEqual(50);
    expect(tally(good)).toEqual({ OK: 40 });
    // A valid user behind the abuser's own address still connects (successful handshakes count per user).
    expect(await attempt(0, mintToken('px-same-ip'), '203.0.113.66')).toBe('OK');
    // Another address's bad handshake is judged on its own: refused as UNAUTHENTICATED, not throttled.
    expect(await attempt(1, 'not-a-jwt', '203.0.113.67')).toBe('UNAUTHENTICATED');
  });

  it('successful handshakes are limited per user, whatever the address: a reconnect loop is throttled, others still connect', async () => {
    // Scale 0.1: 10 handshakes per 10 s per user; each socket is closed at once (no socket cap).
    const codes: string[] = [];
    for (let k = 0; k < 20; k++) {
      try {
        (await connectClient(cluster.nodes[k % 2]!.url, mintToken('px-looper'), { extraHeaders: { 'x-forwarded-for': `198.18.0.${k + 1}` } })).close();
        codes.push('OK');
      } catch (err) {
        codes.push((err as ConnectError).data?.code ?? 'ERROR');
      }
    }
    const t = tally(codes);
    expect(t.OK).toBeGreaterThanOrEqual(9); // leases may leave up to 10 % unused
    expect(t.OK).toBeLessThanOrEqual(10);
    expect(t.RATE_LIMITED).toBe(20 - t.OK!);
    // Another user from the looper's last address is not held back by it.
    expect(await attempt(0, mintToken('px-bystander'), '198.18.0.20')).toBe('OK');
  });

  it('without TRUST_PROXY the header is ignored: rotating X-Forwarded-For does not escape the limit', async () => {
    const node = await cluster.addNode({ TRUST_PROXY: '' });
    const i = cluster.nodes.indexOf(node);
    const codes: string[] = [];
    for (let k = 0; k < 30; k++) codes.push(await attempt(i, 'not-a-jwt', `192.0.2.${k + 1}`));
    expect(tally(codes).RATE_LIMITED).toBeGreaterThanOrEqual(20);
    expect(await attempt(i, mintToken('px-direct'))).toBe('OK');
  });
});
