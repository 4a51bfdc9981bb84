// The storm scenario: N sockets on node A of two gateway nodes, node A stopped (SIGTERM, which
// drains with `server:draining`, or SIGKILL), every client reconnecting with the documented
// back-off to node B and syncing what it missed, while a sender on node B keeps posting into
// their conversations. Reports the time until 50 %, 99 % and 100 % are back, handshake errors
// by code, acknowledged messages still missing after sync (must be 0) and node B's event-loop
// lag during the storm. The nodes are spawned here (tools/spawn-node.ts) with the caller's
// environment (store, Redis, JWT_SECRET).
import { LIMITS } from '../protocol/index.js';
import { gatewayEntry, startNodeProcess, type NodeProcess } from '../tools/spawn-node.js';
import { scrapeOnce } from './scrape.js';
import { StormClient } from './storm-client.js';
import { pool, sleep } from './util.js';

export interface StormOptions {
  sockets: number;
  signal: 'SIGTERM' | 'SIGKILL';
  /** Gateway environment: STORE, DATABASE_URL or MONGODB_URL, REDIS_URL, JWT_SECRET, ... */
  env: Record<string, string>;
  jwtSecret: string;
  runId: string;
  built?: boolean;
  /** Messages per second the sender posts from the stop until everyone is back. */
  sendRate?: number;
  /** Give up waiting for reconnections after this long, ms. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface StormReport {
  sockets: number;
  signal: string;
  connected: number;
  back: number;
  /** ms from the stop until that share of the sockets was connected again (undefined: never). */
  backMs: { p50?: number; p99?: number; p100?: number };
  handshakeErrors: Record<string, number>;
  sent: number;
  /** Sends the sender (on node B) saw refused, by code: none expected. */
  sendErrors: Record<string, number>;
  /** Acknowledged (message, recipient) pairs a recipient had not seen after its final sync. */
  lost: number;
  /** Node B's event-loop lag p99 above its minimum, highest scrape during the storm, ms. */
  survivorLagP99Ms: number;
}

/** Storm users per conversation, besides the sender. */
const GROUP_SIZE = Math.min(50, LIMITS.addMembersMaxPerCall);
/** Sockets opened at once while setting up. */
const SETUP_WAVE = 200;

export async function runStorm(o: StormOptions): Promise<StormReport> {
  const log = o.log ?? (() => {});
  // LOG_LEVEL info: the spawner learns the port from the "listening" line.
  const env = { ...o.env, PORT: '0', JWT_SECRET: o.jwtSecret, SHUTDOWN_READY_DELAY_MS: '0', LOG_LEVEL: 'info' };
  const nodes: NodeProcess[] = [];
  const clients: StormClient[] = [];
  const handshakeErrors: Record<string, number> = {};
  try {
    for (const name of ['a', 'b']) nodes.push(startNodeProcess({ entry: gatewayEntry(o.built), env: { ...env, NODE_ID: `${o.runId}-${name}` }, keepBytes: 8_000 }));
    const [urlA, urlB] = (await Promise.all(nodes.map((n) => n.listening()))).map((port) => `http://127.0.0.1:${port}`) as [string, string];

    const sender = new StormClient({ userId: `${o.runId}-sender`, jwtSecret: o.jwtSecret, url: urlB, fallbackUrl: urlB, onHandshakeError: () => {} });
    clients.push(sender);
    const connecting = setInterval(() => log(`storm: ${clients.filter((c) => c.socket.connected).length}/${o.sockets + 1} connected, handshake errors ${JSON.stringify(handshakeErrors)}`), 2_000);
    // The set-up opens node A's sockets a wave at a time (the storm is what is measured): all
    // 10,000 at once would time out and retry far more handshakes than they are.
    for (let i = 0; i < o.sockets; i++) {
      if (i % SETUP_WAVE === 0) await Promise.all(clients.slice(-SETUP_WAVE).map((c) => c.connected()));
      clients.push(
        new StormClient({
          userId: `${o.runId}-u${i}`,
          jwtSecret: o.jwtSecret,
          url: urlA,
          fallbackUrl: urlB,
          onHandshakeError: (code) => (handshakeErrors[code] = (handshakeErrors[code] ?? 0) + 1),
        }),
      );
    }
    const storm = clients.slice(1);
    await Promise.all(clients.map((c) => c.connected())).finally(() => clearInterval(connecting));
    for (const k of Object.keys(handshakeErrors)) delete handshakeErrors[k]; // only the storm's count
    log(`storm: ${storm.length} sockets on ${urlA}, sender on ${urlB}`);

    // Conversations of GROUP_SIZE storm users each, created by the sender (members join their rooms at once).
    const groups: { id: string; members: StormClient[] }[] = [];
    for (let i = 0; i < storm.length; i += GROUP_SIZE) {
      const members = storm.slice(i, i + GROUP_SIZE);
      const res = (await sender.socket.emitWithAck('conversation:create', {
        type: 'group',
        title: `storm ${i / GROUP_SIZE}`,
        memberIds: members.map((_, k) => `${o.runId}-u${i + k}`),
      })) as { ok: boolean; conversation?: { id: string }; error?: unknown };
      if (!res.ok || !res.conversation) throw new Error(`storm: conversation:create failed: ${JSON.stringify(res.error)}`);
      for (const m of members) m.track(res.conversation.id);
      groups.push({ id: res.conversation.id, members });
    }

    // Stop node A, send while the clients come back, until all are back (or the timeout).
    const stoppedAt = performance.now();
    nodes[0]!.proc.kill(o.signal);
    const acked = new Map<string, number[]>(groups.map((g) => [g.id, []]));
    let sent = 0;
    const sendErrors: Record<string, number> = {};
    let sending = true;
    const sendLoop = (async () => {
      const interval = 1000 / (o.sendRate ?? 20);
      for (let n = 0; sending; n++) {
        const g = groups[n % groups.length]!;
        const res = (await sender.socket
          .timeout(10_000)
          .emitWithAck('message:send', { conversationId: g.id, clientMsgId: `storm-${n}`, kind: 'text', text: `storm ${n}` })
          .catch(() => ({ ok: false, error: { code: 'TIMEOUT' } }))) as { ok: boolean; message?: { seq: number }; error?: { code: string } };
        if (res.ok && res.message) {
          acked.get(g.id)!.push(res.message.seq);
          sent++;
        } else sendErrors[res.error?.code ?? 'UNKNOWN'] = (sendErrors[res.error?.code ?? 'UNKNOWN'] ?? 0) + 1;
        await sleep(interval);
      }
    })();
    let lag = 0;
    const deadline = stoppedAt + (o.timeoutMs ?? 60_000);
    while (storm.some((c) => c.backAt === undefined) && performance.now() < deadline) {
      await sleep(500);
      const s = await scrapeOnce(urlB).catch(() => undefined);
      lag = Math.max(lag, s?.lagExcessP99Ms ?? 0);
      log(`storm: ${storm.filter((c) => c.backAt !== undefined).length}/${storm.length} back, ${sent} sent, node B lag p99 ${s?.lagExcessP99Ms ?? '?'} ms`);
    }
    await sleep(1_000); // the sender keeps going for a second after the last is back
    sending = false;
    await sendLoop;

    // Final catch-up: live deliveries in flight, then one more sync per client.
    await sleep(1_000);
    // Bounded (the clients' catch-up syncs may still be running), and retried: a sync refused or
    // timed out on a saturated node is not a lost message.
    await pool(
      storm.filter((c) => c.socket.connected),
      100,
      async (c) => {
        for (let attempt = 0; attempt < 5; attempt++) {
          try {
            return await c.syncAll();
          } catch {
            await sleep(1_000 * (attempt + 1));
          }
        }
      },
    );
    let lost = 0;
    for (const g of groups) for (const m of g.members) for (const seq of acked.get(g.id)!) if (!m.seen.get(g.id)!.has(seq)) lost++;

    const times = storm.flatMap((c) => (c.backAt === undefined ? [] : [c.backAt - stoppedAt])).sort((a, b) => a - b);
    const at = (share: number) => {
      const k = Math.ceil(share * storm.length);
      return times.length >= k ? Math.round(times[k - 1]!) : undefined;
    };
    return {
      sockets: o.sockets,
      signal: o.signal,
      connected: storm.filter((c) => c.socket.connected).length,
      back: times.length,
      backMs: { p50: at(0.5), p99: at(0.99), p100: at(1) },
      handshakeErrors,
      sent,
      sendErrors,
      lost,
      survivorLagP99Ms: lag,
    };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.stop(5_000)));
  }
}
