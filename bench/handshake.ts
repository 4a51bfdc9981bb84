// The handshake's cost and the memory of an idle socket, per server variant, in one run: for each
// variant one gateway node (PostgreSQL, fresh database and Redis prefix) gets `--sockets` sockets
// of distinct users opened from this process with `--concurrency` handshakes in flight; the
// node's CPU from /proc between the first handshake and the last `connect` gives CPU per connect,
// the wall time connects/s. Then, with every socket idle, node heap and RSS against the baseline
// (and, with `--heap-snapshots`, two heap snapshots to break the heap down by constructor with
// tools/heap-diff.ts). Variants run one after the other, `--runs` rounds interleaved.
//
//   npm run build && cp -r dist .before/   # at the commit to compare with
//   npx tsx bench/handshake.ts --sockets 4000 --runs 2 \
//     --variants "before:ENTRY=.before/dist/server/main.js;after:ENTRY=dist/server/main.js"
import { randomBytes } from 'node:crypto';
import { copyFile, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import { cliOptions, flag, numeric } from '../loadtest/flags.js';
import { metricValue } from '../loadtest/scrape.js';
import { sleep } from '../loadtest/util.js';
import { ROOT } from '../tools/spawn-node.js';
import { processCpuSeconds, startGatewayCluster } from './gateways.js';
import { parseVariants } from './variants.js';

const SHAPE = {
  sockets: flag(numeric(z.number().int().min(1).max(19_000)).default(2_000), { flag: 'sockets', arg: 'n', help: 'sockets (distinct users) per variant' }),
  concurrency: flag(numeric(z.number().int().min(1)).default(200), { flag: 'concurrency', arg: 'n', help: 'handshakes in flight' }),
  runs: flag(numeric(z.number().int().min(1)).default(1), { flag: 'runs', arg: 'n', help: 'rounds over the variants' }),
  variants: flag(z.string().default('after:ENTRY=dist/server/main.js'), { flag: 'variants', arg: 'spec', help: 'as bench/bench.ts: name:KEY=VALUE ...;...' }),
  heapSnapshots: flag(z.string().optional(), { flag: 'heap-snapshots', arg: 'dir', help: 'write a heap snapshot at the baseline and with every socket idle, into dir' }),
};

const o = cliOptions(SHAPE, 'Usage: npx tsx bench/handshake.ts [options]');

const jwtSecret = randomBytes(24).toString('hex');
const benchId = `h${Date.now().toString(36)}`;
const log = (s: string) => process.stderr.write(`${s}\n`);

async function memory(url: string): Promise<{ heapMb: number; rssMb: number; sockets: number }> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const mb = (name: string) => Math.round((metricValue(text, name) ?? 0) / 1e4) / 1e2;
  return { heapMb: mb('nodejs_heap_size_used_bytes'), rssMb: mb('process_resident_memory_bytes'), sockets: metricValue(text, 'gateway_sockets_connected') ?? 0 };
}

/** Sends SIGUSR2 (the node runs with --heapsnapshot-signal) and copies the snapshot to `to` once written. */
async function snapshot(pid: number, to: string): Promise<void> {
  const before = new Set(await readdir(ROOT));
  process.kill(pid, 'SIGUSR2');
  let size = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(2_000);
    const made = (await readdir(ROOT)).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!made) continue;
    const now = (await stat(join(ROOT, made))).size;
    if (now > 0 && now === size) {
      await copyFile(join(ROOT, made), to); // possibly another file system
      return unlink(join(ROOT, made));
    }
    size = now;
  }
  throw new Error('no heap snapshot');
}

/** User and system CPU seconds of a process (the system part is mostly socket writes). */
async function cpuSplit(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
}

function connect(url: string, userId: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      auth: { token: jwt.sign({ sub: userId }, jwtSecret, { algorithm: 'HS256', expiresIn: '1h' }) },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => reject(new Error(err.data?.code ?? err.message)));
  });
}

async function runVariant(spec: ReturnType<typeof parseVariants>[number], round: number) {
  const snapshots = o.heapSnapshots !== undefined;
  const cluster = await startGatewayCluster({
    name: `${benchId}_${spec.name}_${round}`,
    nodes: 1,
    jwtSecret,
    env: spec.env,
    ...(spec.entry ? { entry: spec.entry } : {}),
    nodeArgs: [...(spec.nodeArgs ?? []), ...(snapshots ? ['--heapsnapshot-signal=SIGUSR2'] : [])],
  });
  const sockets: Socket[] = [];
  try {
    const url = cluster.urls[0]!;
    const pid = cluster.processes[0]!.proc.pid!;
    // A warm-up the size of one wave, so JIT and pools are not charged to the first connects.
    const warm = await Promise.allSettled(Array.from({ length: Math.min(o.concurrency, 200) }, (_, i) => connect(url, `warm-${i}`)));
    for (const w of warm) if (w.status === 'fulfilled') w.value.disconnect();
    await sleep(3_000);
    const base = await memory(url);
    if (snapshots) await snapshot(pid, join(o.heapSnapshots!, `${spec.name}-${round}-0.heapsnapshot`));
    const cpu0 = await processCpuSeconds(pid);
    const split0 = await cpuSplit(pid);
    const t0 = performance.now();
    let next = 0;
    const errors = new Map<string, number>();
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (next < o.sockets) {
          const i = next++;
          try {
            sockets.push(await connect(url, `u${round}-${i}`));
          } catch (err) {
            errors.set((err as Error).message, (errors.get((err as Error).message) ?? 0) + 1);
          }
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (await processCpuSeconds(pid)) - cpu0;
    const split1 = await cpuSplit(pid);
    await sleep(5_000);
    const held = await memory(url);
    if (snapshots) await snapshot(pid, join(o.heapSnapshots!, `${spec.name}-${round}-${sockets.length}.heapsnapshot`));
    const n = sockets.length;
    return {
      variant: spec.name,
      round,
      sockets: n,
      errors: Object.fromEntries(errors),
      cpuMsPerConnect: Math.round((cpu * 1e6) / n) / 1e3,
      userMsPerConnect: Math.round(((split1.user - split0.user) * 1e6) / n) / 1e3,
      systemMsPerConnect: Math.round(((split1.system - split0.system) * 1e6) / n) / 1e3,
      connectsPerSecond: Math.round(n / seconds),
      heapKbPerSocket: Math.round(((held.heapMb - base.heapMb) * 1e4) / n) / 10,
      rssKbPerSocket: Math.round(((held.rssMb - base.rssMb) * 1e4) / n) / 10,
      base,
      held,
    };
  } finally {
    sockets.forEach((s) => s.disconnect());
    await cluster.stop();
  }
}

const results = [];
for (let round = 1; round <= o.runs; round++) {
  for (const spec of parseVariants(o.variants)) {
    const r = await runVariant(spec, round);
    log(JSON.stringify(r));
    results.push(r);
  }
}
console.log('| variant | round | sockets | CPU per connect (user + system) | connects/s | heap per socket | RSS per socket | errors |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const r of results)
  console.log(`| ${r.variant} | ${r.round} | ${r.sockets} | ${r.cpuMsPerConnect} ms (${r.userMsPerConnect} + ${r.systemMsPerConnect}) | ${r.connectsPerSecond} | ${r.heapKbPerSocket} kB | ${r.rssKbPerSocket} kB | ${JSON.stringify(r.errors)} |`);
process.exit(0);
