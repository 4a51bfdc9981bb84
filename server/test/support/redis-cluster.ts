// A real Redis Cluster for one test file: six `redis-server` processes (three masters, three
// replicas) on free local ports, created with `redis-cli --cluster create --cluster-replicas 1`,
// no persistence, a short node timeout so a killed master's replica takes over in about two
// seconds. `redisClusterAvailable()` lets a file skip (with the reason) where redis-server is absent.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);
const NODE_TIMEOUT_MS = 1_000;

export interface RedisClusterNode {
  port: number;
  proc: ChildProcess;
}

export interface TestRedisCluster {
  /** REDIS_URL for REDIS_MODE=cluster: every node as a seed. */
  seeds: string;
  nodes: RedisClusterNode[];
  /** The port of the master serving `slot` right now. */
  masterOf(slot: number): Promise<number>;
  /** SIGKILLs the node on `port`. */
  kill(port: number): void;
  /** Resolves once every live node reports cluster_state:ok. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Why the cluster tests cannot run here, or undefined when they can. */
export function redisClusterUnavailable(): string | undefined {
  for (const bin of ['redis-server', 'redis-cli']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return `${bin} not found (install Debian's redis-server package; scripts/setup-test-deps.sh does)`;
    const major = Number(/v=(\d+)/.exec(r.stdout)?.[1] ?? /(\d+)\./.exec(r.stdout)?.[1] ?? 0);
    if (bin === 'redis-server' && major < 7) return `redis-server ${major}.x has no sharded pub/sub (needs 7+)`;
  }
  return undefined;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5_000 });
  return stdout;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis cluster: ${what} not reached in ${timeoutMs} ms`);
}

export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-'));
  const nodes: RedisClusterNode[] = [];
  for (let i = 0; i < 6; i++) {
    const port = await freePort();
    // The bus port would be port + 10000, past 65535 for most ephemeral ports: pick one too.
    const busPort = await freePort();
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--dir', dir,
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
        '--cluster-replica-validity-factor', '0', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    nodes.push({ port, proc });
  }
  const alive = () => nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
  const healthy = async (timeoutMs = 20_000) =>
    until('cluster_state:ok on every node', async () => {
      const infos = await Promise.all(alive().map((n) => cli(n.port, 'cluster', 'info')));
      return infos.every((i) => i.includes('cluster_state:ok'));
    }, timeoutMs);
  const stop = async () => {
    for (const n of nodes) n.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until('every node answering', async () => (await Promise.all(nodes.map((n) => cli(n.port, 'ping')))).every((r) => r.includes('PONG')), 10_000);
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
    await healthy();
    // A replica can only take over once it has synced with its master.
    await until('every replica in sync', async () => {
      const infos = await Promise.all(nodes.map((n) => cli(n.port, 'info', 'replication')));
      return infos.filter((i) => i.includes('role:slave')).length === 3 && infos.every((i) => !i.includes('role:slave') || i.includes('master_link_status:up'));
    }, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    seeds: nodes.map((n) => `redis://127.0.0.1:${n.port}`).join(','),
    nodes,
    async masterOf(slot) {
      const text = await cli(alive()[0]!.port, 'cluster', 'nodes');
      for (const f of text.split('\n').map((l) => l.trim().split(' '))) {
        if (!f[2]?.split(',').includes('master') || f[2].includes('fail')) continue;
        const serves = f.slice(8).some((r) => {
          const [from, to = from] = r.split('-').map(Number);
          return slot >= from! && slot <= to!;
        });
        if (serves) return Number(f[1]!.split('@')[0]!.split(':')[1]);
      }
      throw new Error(`no master serves slot ${slot}`);
    },
    kill(port) {
      nodes.find((n) => n.port === port)?.proc.kill('SIGKILL');
    },
    healthy,
    stop,
  };
}
