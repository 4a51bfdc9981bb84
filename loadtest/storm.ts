// The storm scenario: N sockets on node A of two gateway nodes, node A stopped (SIGTERM, which
// drains with `server:draining`, or SIGKILL), every client reconnecting with the documented
// back-off to node B and syncing what it missed, while a sender on node B keeps posting into
// their conversations. Reports the time until 50 %, 99 % and 100 % are back, handshake errors
// by code, acknowledged messages still missing after sync (must be 0) and node B's event-loop
// lag during the storm. The nodes are spawned here (tools/spawn-node.ts) with the caller's
// environment (store, Redis, JWT_SECRET).
import { LIMITS } from '../protocol/index.js';
import { cpuSecondsByName, listenOverflows, processCpuSeconds } from '../tools/proc-cpu.js';
import { gatewayEntry, startNodeProcess, type NodeProcess } from '../tools/spawn-node.js';
import { scrapeOnce } from './scrape.js';
import { StormClient } from './storm-client.js';
import { Fleet } from './storm-fleet.js';
import { sleep } from './util.js';

export interface StormOptions {
  sockets: number;
  signal: 'SIGTERM' | 'SIGKILL';
  /** Gateway environment: STORE, DATABASE_URL or MONGODB_URL, REDIS_URL, JWT_SECRET, ... */
  env: Record<string, string>;
  jwtSecret: string;
  runId: string;
  built?: boolean;
  /** Gateway entry point relative to the repository root (default: gatewayEntry(built)). */
  entry?: string;
  /** Messages per second the sender posts from the stop until everyone is back. */
  sendRate?: number;
  /** Generator processes the storm clients are spread over (default: one per 2,500 sockets, 1–4). */
  generators?: number;
  /** Nice value of the generator processes (0: as this process). */
  generatorNice?: number;
  /**
   * Throwaway clients node B serves before the stop (each connects, creates a group, syncs it
   * and leaves), so the storm meets a node whose handshake and sync paths have run, as a
   * surviving node in production has; 0 (default): node B has served only the sender.
   */
  warmup?: number;
  /** Node flags for node B (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
  survivorNodeArgs?: string[];
  /** Give up waiting for reconnections after this long, ms. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface StormReport {
  sockets: number;
  signal: string;
  /** Throwaway clients node B served before the stop. */
  warmup: number;
  generators: number;
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
  /** Node B's CPU from the stop until 100 % were back (or the timeout), ms, and per socket back. */
  survivorCpuMs: number;
  survivorCpuMsPerReconnect: number;
  /** Each generator process's CPU over the same span (its last report before the end), ms. */
  generatorCpuMs: number[];
  /** CPU of every PostgreSQL and Redis server process of the machine over the storm (theirs and any neighbour's), ms. */
  serviceCpuMs: Record<string, number>;
  /** Connections the kernel dropped over the storm because a listen queue was full (machine-wide). */
  listenOverflows: number;
}

/** The shared services a storm also loads (process names). */
const SERVICES = ['postgres', 'redis-server'];

/** Storm users per conversation, besides the sender. */
const GROUP_SIZE = Math.min(50, LIMITS.addMembersMaxPerCall);
/** Sockets opened at once while setting up (over all generator processes). */
const SETUP_WAVE = 200;
const now = () => performance.timeOrigin + performance.now();

export async function runStorm(o: StormOptions): Promise<StormReport> {
  const log = o.log ?? (() => {});
  // LOG_LEVEL info: the spawner learns the port from the "listening" line.
  const env = { ...o.env, PORT: '0', JWT_SECRET: o.jwtSecret, SHUTDOWN_READY_DELAY_MS: '0', LOG_LEVEL: 'info' };
  const nodes: NodeProcess[] = [];
  let fleet: Fleet | undefined;
  let sender: StormClient | undefined;
  try {
    for (const name of ['a', 'b'])
      nodes.push(
        startNodeProcess({
          entry: o.entry ?? gatewayEntry(o.built),
          env: { ...env, NODE_ID: `${o.runId}-${name}` },
          keepBytes: 8_000,
          ...(name === 'b' && o.survivorNodeArgs ? { nodeArgs: o.survivorNodeArgs } : {}),
        }),
      );
    const [urlA, urlB] = (await Promise.all(nodes.map((n) => n.listening()))).map((port) => `http://127.0.0.1:${port}`) as [string, string];

    sender = new StormClient({ userId: `${o.runId}-sender`, jwtSecret: o.jwtSecret, url: urlB, fallbackUrl: urlB, onHandshakeError: () => {} });
    // The set-up opens node A's sockets a wave at a time (the storm is what is measured): all
    // 10,000 at once would time out and retry far more handshakes than they are.
    const generators = o.generators ?? Math.max(1, Math.min(4, Math.ceil(o.sockets / 2_500)));
    const f = (fleet = new Fleet({ runId: o.runId, sockets: o.sockets, count: generators, urlA, urlB, jwtSecret: o.jwtSecret, wave: SETUP_WAVE, nice: o.generatorNice ?? 0 }));
    const connecting = setInterval(() => log(`storm: ${f.status().connected}/${o.sockets} connected (${generators} generator processes)`), 2_000);
    await Promise.all([f.ready(), sender.connected()]).finally(() => clearInterval(connecting));
    log(`storm: ${o.sockets} sockets on ${urlA} from ${generators} processes, sender on ${urlB}`);

    // Conversations of GROUP_SIZE storm users each, created by the sender (members join their
    // rooms at once); a refusal by the membership limit is waited out (RATE_LIMIT_SCALE=1).
    const groups: { id: string; from: number; to: number }[] = [];
    for (let i = 0; i < o.sockets; i += GROUP_SIZE) {
      const to = Math.min(o.sockets, i + GROUP_SIZE);
      const memberIds = Array.from({ length: to - i }, (_, k) => `${o.runId}-u${i + k}`);
      const res = await sender.connection.call('conversation:create', { type: 'group', title: `storm ${i / GROUP_SIZE}`, memberIds }, { attempts: 30 });
      groups.push({ id: res.conversation.id, from: i, to });
    }
    await f.track(groups);
    if (o.warmup) {
      log(`storm: warming node B up with ${o.warmup} throwaway clients`);
      await warmUp(urlB, o.warmup, o);
    }

    // Stop node A, send while the clients come back, until all are back (or the timeout).
    const pidB = nodes[1]!.proc.pid!;
    const cpuB0 = await processCpuSeconds(pidB);
    const services0 = await cpuSecondsByName(SERVICES);
    const overflows0 = await listenOverflows();
    const stoppedAt = now();
    nodes[0]!.proc.kill(o.signal);
    const acked: Record<string, number[]> = Object.fromEntries(groups.map((g) => [g.id, []]));
    let sent = 0;
    const sendErrors: Record<string, number> = {};
    let sending = true;
    const s = sender;
    const sendLoop = (async () => {
      const interval = 1000 / (o.sendRate ?? 20);
      for (let n = 0; sending; n++) {
        const g = groups[n % groups.length]!;
        await s.connection.call('message:send', { conversationId: g.id, clientMsgId: `storm-${n}`, kind: 'text', text: `storm ${n}` }).then(
          (res) => {
            acked[g.id]!.push(res.message.seq);
            sent++;
          },
          (err: { code?: string }) => (sendErrors[err.code ?? 'UNKNOWN'] = (sendErrors[err.code ?? 'UNKNOWN'] ?? 0) + 1),
        );
        await sleep(interval);
      }
    })();
    let lag = 0;
    const deadline = stoppedAt + (o.timeoutMs ?? 60_000);
    while (f.status().back < o.sockets && now() < deadline) {
      await sleep(500);
      const sc = await scrapeOnce(urlB).catch(() => undefined);
      lag = Math.max(lag, sc?.lagExcessP99Ms ?? 0);
      const st = f.status();
      log(`storm: ${st.back}/${o.sockets} back, ${sent} sent, node B lag p99 ${sc?.lagExcessP99Ms ?? '?'} ms, handshake errors ${JSON.stringify(st.handshakeErrors)}`);
    }
    const survivorCpuMs = Math.round(((await processCpuSeconds(pidB)) - cpuB0) * 1000);
    const services1 = await cpuSecondsByName(SERVICES);
    const generatorCpuMs = f.status().cpuMs;
    const overflows = (await listenOverflows()) - overflows0;
    const serviceCpuMs = Object.fromEntries(SERVICES.map((n) => [n, Math.round((services1[n]! - services0[n]!) * 1000)]));
    await sleep(1_000); // the sender keeps going for a second after the last is back
    sending = false;
    await sendLoop;

    // Final catch-up: live deliveries in flight, then one more sync per client.
    await sleep(1_000);
    const r = await f.final(acked);
    const times = r.backAt.map((t) => t - stoppedAt).sort((a, b) => a - b);
    const at = (share: number) => {
      const k = Math.ceil(share * o.sockets);
      return times.length >= k ? Math.round(times[k - 1]!) : undefined;
    };
    return {
      sockets: o.sockets,
      signal: o.signal,
      generators,
      warmup: o.warmup ?? 0,
      connected: r.connected,
      back: times.length,
      backMs: { p50: at(0.5), p99: at(0.99), p100: at(1) },
      handshakeErrors: r.handshakeErrors,
      sent,
      sendErrors,
      lost: r.lost,
      survivorLagP99Ms: lag,
      survivorCpuMs,
      survivorCpuMsPerReconnect: times.length ? Math.round((survivorCpuMs / times.length) * 100) / 100 : 0,
      generatorCpuMs,
      serviceCpuMs,
      listenOverflows: overflows,
    };
  } catch (err) {
    nodes.forEach((n, i) => log(`storm: node ${'ab'[i]} output before the failure:\n${n.output().slice(-3_000)}`));
    throw err;
  } finally {
    sender?.close();
    await fleet?.close();
    await Promise.all(nodes.map((n) => n.stop(5_000)));
  }
}

/** `count` clients on `url`, 50 at a time: connect, create a group, sync it, leave. */
async function warmUp(url: string, count: number, o: Pick<StormOptions, 'runId' | 'jwtSecret'>): Promise<void> {
  for (let from = 0; from < count; from += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - from) }, async (_, k) => {
        const client = new StormClient({ userId: `${o.runId}-w${from + k}`, jwtSecret: o.jwtSecret, url, fallbackUrl: url, onHandshakeError: () => {} });
        try {
          await client.connected();
          const { conversation } = await client.connection.call('conversation:create', { type: 'group', title: 'warm-up' });
          await client.connection.call('conversation:sync', { conversationId: conversation.id, afterSeq: 0 });
        } finally {
          client.close();
        }
      }),
    );
  }
}
