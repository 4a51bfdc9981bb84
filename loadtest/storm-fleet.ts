// The storm scenario's generator processes, seen from the coordinator: forks `count` processes
// of storm-generator.ts (through tsx, with an IPC channel), each holding an equal slice of the
// storm users, so that no single process's event loop (socket.io-client, timers, syncs) bounds
// how fast 10,000 clients can come back. Aggregates their status and results.
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../tools/spawn-node.js';
import type { FromGenerator, GeneratorConfig, GeneratorResult, GeneratorStatus, ToGenerator } from './storm-generator.js';

export interface FleetOptions {
  runId: string;
  sockets: number;
  count: number;
  urlA: string;
  urlB: string;
  jwtSecret: string;
  /** Sockets opened at once during the set-up, over all processes. */
  wave: number;
  /** Nice value of the processes (0: unchanged). */
  nice?: number;
}

interface Member {
  proc: ChildProcess;
  stderr: string;
  status?: GeneratorStatus;
  waiting: Map<FromGenerator['type'], (m: FromGenerator) => void>;
  exited: Promise<void>;
}

export class Fleet {
  private readonly members: Member[] = [];

  constructor(o: FleetOptions) {
    const count = Math.max(1, Math.min(o.count, o.sockets));
    const per = Math.ceil(o.sockets / count);
    for (let g = 0; g < count; g++) {
      const cfg: GeneratorConfig = {
        runId: o.runId,
        from: g * per,
        to: Math.min(o.sockets, (g + 1) * per),
        urlA: o.urlA,
        urlB: o.urlB,
        wave: Math.max(1, Math.ceil(o.wave / count)),
      };
      const proc = fork(join(ROOT, 'loadtest/storm-generator.ts'), [], {
        cwd: ROOT,
        execArgv: ['--import', 'tsx'],
        // The secret goes through the environment, not argv (visible in ps).
        env: { ...process.env, STORM_GENERATOR: JSON.stringify(cfg), JWT_SECRET: o.jwtSecret },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      if (o.nice) setPriority(proc.pid!, o.nice);
      const m: Member = { proc, stderr: '', waiting: new Map(), exited: new Promise((r) => proc.once('exit', () => r())) };
      proc.stderr!.on('data', (c: Buffer) => (m.stderr = (m.stderr + c.toString()).slice(-4_000)));
      proc.on('message', (msg: FromGenerator) => {
        if (msg.type === 'status') m.status = msg;
        const w = m.waiting.get(msg.type);
        m.waiting.delete(msg.type);
        w?.(msg);
      });
      this.members.push(m);
    }
  }

  /** Resolves with each process's reply of type `type` (sent after `message`, when given). */
  private all<T extends FromGenerator>(type: T['type'], message?: ToGenerator): Promise<T[]> {
    return Promise.all(
      this.members.map(
        (m) =>
          new Promise<T>((resolve, reject) => {
            m.waiting.set(type, (msg) => resolve(msg as T));
            m.exited.then(() => reject(new Error(`storm generator ${m.proc.pid} exited: ${m.stderr.slice(-1_000)}`)));
            if (message) m.proc.send(message);
          }),
      ),
    );
  }

  /** Every process has all its clients connected. */
  ready(): Promise<unknown> {
    return this.all('ready');
  }

  track(groups: { id: string; from: number; to: number }[]): Promise<unknown> {
    return this.all('tracked', { type: 'track', groups });
  }

  /** Sums of the last status of every process. */
  status(): { connected: number; back: number; handshakeErrors: Record<string, number>; cpuMs: number[] } {
    const out = { connected: 0, back: 0, handshakeErrors: {} as Record<string, number>, cpuMs: [] as number[] };
    for (const { status: s } of this.members) {
      if (!s) continue;
      out.connected += s.connected;
      out.back += s.back;
      out.cpuMs.push(s.cpuMs);
      addCounts(out.handshakeErrors, s.handshakeErrors);
    }
    return out;
  }

  /** Every process's final sync and count, aggregated. */
  async final(acked: Record<string, number[]>): Promise<Omit<GeneratorResult, 'type'>> {
    const results = await this.all<GeneratorResult>('result', { type: 'final', acked });
    const handshakeErrors: Record<string, number> = {};
    for (const r of results) addCounts(handshakeErrors, r.handshakeErrors);
    return {
      backAt: results.flatMap((r) => r.backAt),
      connected: results.reduce((n, r) => n + r.connected, 0),
      lost: results.reduce((n, r) => n + r.lost, 0),
      handshakeErrors,
    };
  }

  async close(): Promise<void> {
    for (const m of this.members) if (m.proc.connected) m.proc.send({ type: 'close' } satisfies ToGenerator);
    const killer = setTimeout(() => this.members.forEach((m) => m.proc.kill('SIGKILL')), 5_000);
    await Promise.all(this.members.map((m) => m.exited));
    clearTimeout(killer);
  }
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}
