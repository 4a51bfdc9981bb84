// Starts and stops the servers a benchmark measures: child processes of the real entry point
// (`server/main.ts`, or the built `dist/server/main.js`) or of another server program such as the
// hand-rolled peer (`bench/peer.ts`), each cluster on a PostgreSQL database and Redis key prefix
// of its own, dropped again when it stops. Talks to the servers only over their public interface
// (env, stdout, HTTP), never imports server code.
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { Redis } from 'ioredis';
import { processCpuSeconds } from '../tools/proc-cpu.js';
import { gatewayEntry, startNodeProcess } from '../tools/spawn-node.js';

export interface GatewayClusterOptions {
  /** Cluster name: becomes part of the database name and Redis prefix. */
  name: string;
  nodes: number;
  /** Extra environment for every node (RELAY_MODE, WORKER_CONCURRENCY, ...). */
  env?: Record<string, string>;
  /** Server program, relative to the repository root (default: the gateway). */
  entry?: string;
  /** Extra processes with ROLE=worker (no HTTP). */
  workers?: number;
  jwtSecret: string;
  /** PostgreSQL server URL without a database (default postgres://root@127.0.0.1:5432). */
  postgresUrl?: string;
  redisUrl?: string;
  /** Run the compiled dist/ instead of tsx (same code, no loader). */
  built?: boolean;
  /** Extra node flags for every process (e.g. `--cpu-prof`, not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** Keep the last bytes of each node's output for error messages. */
  outputBytes?: number;
  /** CPUs every server process is pinned to (`taskset -c` list). */
  cpus?: string;
}

export interface GatewayProcess {
  proc: ChildProcess;
  role: string;
  port?: number;
  url?: string;
  output(): string;
}

export interface GatewayCluster {
  urls: string[];
  processes: GatewayProcess[];
  databaseUrl: string;
  redisPrefix: string;
  /** CPU seconds of this cluster's PostgreSQL backends, by backend pid. */
  databaseCpu(): Promise<Map<number, number>>;
  /** ANALYZE of the cluster's database (planner statistics, as autovacuum would keep them). */
  analyze(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; then drops the database and Redis keys. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

function dbName(name: string): string {
  return `ltb_${name.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`.slice(0, 60);
}

export { processCpuSeconds };

/**
 * CPU seconds used so far by the PostgreSQL backends serving `database` (local server only).
 * Backends that ended since the last call are not counted: an approximation for pools that
 * keep their connections, as the gateways' do during a run.
 */
export async function databaseCpuSeconds(serverUrl: string, database: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: `${serverUrl.replace(/\/$/, '')}/postgres` });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
    const out = new Map<number, number>();
    for (const { pid } of rows) out.set(pid, await processCpuSeconds(pid));
    return out;
  } finally {
    await client.end();
  }
}

async function onServer(serverUrl: string, sql: (client: pg.Client) => string): Promise<void> {
  const client = new pg.Client({ connectionString: `${serverUrl.replace(/\/$/, '')}/postgres` });
  await client.connect();
  try {
    await client.query(sql(client));
  } finally {
    await client.end();
  }
}

export const dropDatabase = (serverUrl: string, name: string) => onServer(serverUrl, (c) => `DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
const createDatabase = (serverUrl: string, name: string) => onServer(serverUrl, (c) => `CREATE DATABASE ${c.escapeIdentifier(name)}`);

export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

export async function startGatewayCluster(o: GatewayClusterOptions): Promise<GatewayCluster> {
  const pgServer = (o.postgresUrl ?? 'postgres://root@127.0.0.1:5432').replace(/\/$/, '');
  const redisUrl = o.redisUrl ?? 'redis://127.0.0.1:6379';
  const database = dbName(o.name);
  const databaseUrl = `${pgServer}/${database}`;
  const redisPrefix = `ltb:${o.name}`.slice(0, 64);
  const entry = o.entry ?? gatewayEntry(o.built);
  const base: Record<string, string> = {
    PORT: '0',
    STORE: 'postgres',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: redisPrefix,
    JWT_SECRET: o.jwtSecret,
    LOG_LEVEL: 'info',
    RATE_LIMIT_SCALE: '1000',
    ...o.env,
  };
  // A leftover from a killed run would skew the numbers (and its data would be reused). The
  // database is created here, so that a server program need not know how.
  await dropDatabase(pgServer, database).catch(() => {});
  await deleteRedisPrefix(redisUrl, redisPrefix).catch(() => {});
  await createDatabase(pgServer, database);

  const processes: (GatewayProcess & { stop(graceMs: number): Promise<void> })[] = [];
  let stopping: Promise<void> | undefined;
  const cluster: GatewayCluster = {
    urls: [],
    processes,
    databaseUrl,
    redisPrefix,
    databaseCpu: () => databaseCpuSeconds(pgServer, database),
    async analyze() {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query('ANALYZE');
      } finally {
        await client.end();
      }
    },
    stop(graceMs = 15_000) {
      stopping ??= (async () => {
        await Promise.all(processes.map((p) => p.stop(graceMs)));
        await dropDatabase(pgServer, database).catch(() => {});
        await deleteRedisPrefix(redisUrl, redisPrefix).catch(() => {});
      })();
      return stopping;
    },
  };
  try {
    // The first node alone creates the schema; the others then start against it.
    const roles = [...Array.from({ length: o.nodes }, () => o.env?.ROLE ?? 'all'), ...Array.from({ length: o.workers ?? 0 }, () => 'worker')];
    for (const [i, role] of roles.entries()) {
      const node = startNodeProcess({
        entry,
        env: { ...base, ROLE: role, NODE_ID: `${o.name}-${role}-${i}` },
        nodeArgs: o.nodeArgs ?? [],
        keepBytes: o.outputBytes ?? 16_384,
        ...(o.cpus ? { cpus: o.cpus } : {}),
      });
      const gp = { proc: node.proc, role, output: node.output, stop: node.stop } as (typeof processes)[number];
      processes.push(gp);
      const port = await node.listening();
      if (role !== 'worker') {
        gp.port = port;
        gp.url = `http://127.0.0.1:${port}`;
        cluster.urls.push(gp.url);
      }
    }
  } catch (err) {
    await cluster.stop(2_000);
    throw err;
  }
  return cluster;
}
