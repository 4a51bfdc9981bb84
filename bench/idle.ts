// Idle sockets on ONE gateway node: RSS before and with N connected sockets. The sockets are
// opened by several generator processes (the CLI's idle scenario), because one process may
// hold at most `ulimit -n` descriptors and the node needs the same number on its side.
import { join } from 'node:path';
import { scrapeOnce } from '../loadtest/scrape.js';
import { sleep } from '../loadtest/util.js';
import { startNodeProcess } from '../tools/spawn-node.js';
import { processCpuSeconds, startGatewayCluster, type GatewayCluster } from './gateways.js';
import type { Variant } from './variants.js';

export interface IdleOptions {
  benchId: string;
  jwtSecret: string;
  users: number;
  generators: number;
  /** Hold time of each generator once connected, s. */
  duration: number;
  built: boolean;
  /** Server program and environment (default: the gateway as configured). */
  variant?: Variant;
  outDir: string;
  clusters: Set<GatewayCluster>;
  signal: AbortSignal;
  log: (line: string) => void;
}

export interface IdleResult {
  scenario: 'idle';
  sockets: number;
  target: number;
  rssBaselineMb: number;
  rssPeakMb: number;
  kbPerSocket: number;
  lagExcessP99MsAtPeak: number;
  connectSeconds: number;
  /** Server CPU from the first socket to the last, per connect: the handshake's cost. */
  cpuMsPerConnect: number;
  generatorExitCodes: (number | null)[];
  markdown: string;
}

export async function runIdle(o: IdleOptions): Promise<IdleResult> {
  const v = o.variant;
  const cluster = await startGatewayCluster({
    name: `${o.benchId}_idle${v ? `_${v.name}` : ''}`,
    nodes: 1,
    jwtSecret: o.jwtSecret,
    built: o.built,
    ...(v ? { env: v.env, ...(v.entry ? { entry: v.entry } : {}) } : {}),
  });
  o.clusters.add(cluster);
  try {
    const url = cluster.urls[0]!;
    await sleep(3_000); // let start-up garbage settle before the baseline
    const base = await scrapeOnce(url);
    const rssBaselineMb = base.rssMb ?? 0;
    const pid = cluster.processes[0]!.proc.pid!;
    const cpuBefore = await processCpuSeconds(pid);
    let cpuConnected = 0;
    o.log(`idle: node ${url}, baseline RSS ${rssBaselineMb} MB; opening ${o.users} sockets from ${o.generators} processes`);

    const per = Math.ceil(o.users / o.generators);
    const started = performance.now();
    const gens = Array.from({ length: o.generators }, (_, i) => {
      const users = Math.min(per, o.users - i * per);
      const gen = startNodeProcess({
        entry: 'loadtest/cli.ts',
        args: [
          '--scenario=idle',
          `--users=${users}`,
          `--duration=${o.duration}`,
          `--url=${url}`,
          '--connect-rate=1000',
          '--scrape-interval=0',
          '--quiet',
          `--run-id=${o.benchId}g${i}`,
          `--out=${join(o.outDir, `idle-generator-${i}`)}`,
        ],
        // The secret goes through the environment, not argv (visible in ps).
        env: { JWT_SECRET: o.jwtSecret },
        keepBytes: 4_000,
      });
      const { proc, exited } = gen;
      o.signal.addEventListener('abort', () => proc.kill('SIGINT'), { once: true });
      return { proc, exited, stderr: gen.stderr };
    });
    let done = false;
    const allExited = Promise.all(gens.map((g) => g.exited)).then((codes) => {
      done = true;
      return codes;
    });

    let peak = { sockets: 0, rssMb: 0, lag: 0 };
    let connectSeconds = 0;
    while (!done) {
      await sleep(1_000);
      const s = await scrapeOnce(url).catch(() => undefined);
      if (!s) continue;
      const sockets = s.sockets ?? 0;
      if (sockets >= peak.sockets) peak = { sockets, rssMb: Math.max(peak.rssMb, s.rssMb ?? 0), lag: s.lagExcessP99Ms ?? 0 };
      if (sockets >= o.users && !connectSeconds) {
        connectSeconds = (performance.now() - started) / 1000;
        cpuConnected = await processCpuSeconds(pid);
      }
      o.log(`idle: ${sockets} sockets, RSS ${s.rssMb} MB, lag p99 ${s.lagExcessP99Ms} ms`);
    }
    const codes = await allExited;
    gens.forEach((g, i) => {
      if (codes[i] !== 0) o.log(`generator ${i} exited with ${codes[i]}: ${g.stderr().slice(-1_000)}`);
    });
    const kbPerSocket = peak.sockets ? Math.round(((peak.rssMb - rssBaselineMb) * 1000) / peak.sockets) : 0;
    const at20k = Math.round(rssBaselineMb + (kbPerSocket * 20_000) / 1000);
    // Includes the 1 s scrapes and idle ticks until the target was seen: an upper bound.
    const cpuMsPerConnect = cpuConnected && peak.sockets ? Math.round(((cpuConnected - cpuBefore) * 1e6) / peak.sockets) / 1e3 : 0;
    const markdown = [
      `| variant | sockets on one node | RSS before | RSS with sockets | per socket | RSS extrapolated to 20,000 | lag p99 at peak | server CPU per connect |`,
      `|---|---:|---:|---:|---:|---:|---:|---:|`,
      `| ${v?.name ?? 'gateway'} | ${peak.sockets} / ${o.users} | ${rssBaselineMb} MB | ${peak.rssMb} MB | ${kbPerSocket} kB | ${at20k} MB | ${peak.lag} ms | ${cpuMsPerConnect} ms |`,
    ].join('\n');
    return {
      scenario: 'idle',
      sockets: peak.sockets,
      target: o.users,
      rssBaselineMb,
      rssPeakMb: peak.rssMb,
      kbPerSocket,
      lagExcessP99MsAtPeak: peak.lag,
      connectSeconds: Math.round(connectSeconds * 10) / 10,
      cpuMsPerConnect,
      generatorExitCodes: codes,
      markdown,
    };
  } finally {
    await cluster.stop();
    o.clusters.delete(cluster);
  }
}
