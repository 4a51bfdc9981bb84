// A generator process of the storm scenario (forked by storm-fleet.ts, with an IPC channel): holds
// the storm clients of users `from`..`to`-1, opens them on node A, tracks the conversations the
// coordinator names, and once the coordinator has stopped node A reports how many are back
// (every 500 ms) and, when asked, syncs everyone a last time and reports what is missing.
// Times go out as epoch ms (performance.timeOrigin + now) so the coordinator can compare them.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { StormClient } from './storm-client.js';
import { pool, sleep } from './util.js';

export interface GeneratorConfig {
  runId: string;
  from: number;
  to: number;
  urlA: string;
  urlB: string;
  /** Sockets this process opens at once during the set-up. */
  wave: number;
}

export type ToGenerator = { type: 'track'; groups: { id: string; from: number; to: number }[] } | { type: 'final'; acked: Record<string, number[]> } | { type: 'close' };

export interface GeneratorStatus {
  type: 'status';
  connected: number;
  back: number;
  handshakeErrors: Record<string, number>;
  /** This process's CPU (user + system) since the tracking (the storm's start), ms. */
  cpuMs: number;
}
export interface GeneratorResult {
  type: 'result';
  /** Epoch ms of each client's first connect after the drop. */
  backAt: number[];
  connected: number;
  lost: number;
  handshakeErrors: Record<string, number>;
}
export type FromGenerator = GeneratorStatus | { type: 'ready' } | { type: 'tracked' } | GeneratorResult;

const epoch = (t: number) => performance.timeOrigin + t;

async function main(): Promise<void> {
  process.once('disconnect', () => process.exit(0)); // the coordinator is gone
  const cfg = JSON.parse(process.env.STORM_GENERATOR ?? '{}') as GeneratorConfig;
  const secret = process.env.JWT_SECRET ?? '';
  const send = (m: FromGenerator) => process.send?.(m);
  const handshakeErrors: Record<string, number> = {};
  const clients: StormClient[] = [];
  let cpu0: NodeJS.CpuUsage | undefined;
  const cpuMs = () => {
    if (!cpu0) return 0;
    const c = process.cpuUsage(cpu0);
    return Math.round((c.user + c.system) / 1000);
  };
  const status = setInterval(
    () =>
      send({
        type: 'status',
        connected: clients.filter((c) => c.socket.connected).length,
        back: clients.filter((c) => c.backAt !== undefined).length,
        handshakeErrors,
        cpuMs: cpuMs(),
      }),
    500,
  );
  for (let i = cfg.from; i < cfg.to; i++) {
    if ((i - cfg.from) % cfg.wave === 0) await Promise.all(clients.slice(-cfg.wave).map((c) => c.connected()));
    const onHandshakeError = (code: string) => (handshakeErrors[code] = (handshakeErrors[code] ?? 0) + 1);
    clients.push(new StormClient({ userId: `${cfg.runId}-u${i}`, jwtSecret: secret, url: cfg.urlA, fallbackUrl: cfg.urlB, onHandshakeError }));
  }
  await Promise.all(clients.map((c) => c.connected()));
  send({ type: 'ready' });

  process.on('message', (m: ToGenerator) => {
    if (m.type === 'track') {
      for (const g of m.groups) for (let i = Math.max(g.from, cfg.from); i < Math.min(g.to, cfg.to); i++) clients[i - cfg.from]!.track(g.id);
      for (const k of Object.keys(handshakeErrors)) delete handshakeErrors[k]; // only the storm's count
      cpu0 = process.cpuUsage();
      void profile.start().then(() => send({ type: 'tracked' }));
    } else if (m.type === 'final') {
      void profile.stop();
      // Bounded (the clients' catch-up syncs may still be running), and retried: a sync refused
      // or timed out on a saturated node is not a lost message.
      void pool(
        clients.filter((c) => c.socket.connected),
        50,
        async (c) => {
          for (let attempt = 0; attempt < 5; attempt++) {
            try {
              return await c.syncAll();
            } catch {
              await sleep(1_000 * (attempt + 1));
            }
          }
        },
      ).then(() => {
        send({
          type: 'result',
          backAt: clients.flatMap((c) => (c.backAt === undefined ? [] : [epoch(c.backAt)])),
          connected: clients.filter((c) => c.socket.connected).length,
          lost: clients.reduce((n, c) => n + c.missing(m.acked), 0),
          handshakeErrors,
        });
      });
    } else {
      clearInterval(status);
      for (const c of clients) c.close();
      process.disconnect?.();
    }
  });
}

/**
 * With STORM_GENERATOR_PROFILE=dir, this process's CPU profile from the stop of node A until the
 * final check (the storm alone, without the set-up), written to dir/generator-<pid>.cpuprofile.
 */
const profile = (() => {
  const dir = process.env.STORM_GENERATOR_PROFILE;
  const session = dir ? new Session() : undefined;
  let running = false;
  return {
    async start() {
      if (!session || running) return;
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      running = true;
    },
    async stop() {
      if (!session || !running) return;
      running = false;
      const { profile: p } = await session.post('Profiler.stop');
      writeFileSync(join(dir!, `generator-${process.pid}.cpuprofile`), JSON.stringify(p));
    },
  };
})();

main().catch((err: unknown) => {
  process.stderr.write(`storm generator: ${String(err)}\n`);
  process.exit(1);
});
