// Test clusters: N gateway nodes on ephemeral ports sharing one Redis prefix and one store
// database, started in this process (fast) or as child processes (for kill -9 tests).
import type { ChildProcess } from 'node:child_process';
import { startNodeProcess } from '../../../tools/spawn-node.js';
import { createApp, type App } from '../../app.js';
import { loadConfig } from '../../config.js';
import { connectClient, type ClientSocket } from './clients.js';
import { deleteRedisPrefix, freshMongoUrl, freshPostgresUrl, freshRedisPrefix, redisUrl } from './env.js';
import { mintToken, TEST_SECRET } from './tokens.js';

export type StoreKind = 'postgres' | 'mongo';

export interface ClusterOptions {
  nodes?: number;
  store?: StoreKind;
  /** Extra environment for every node (e.g. RATE_LIMIT_SCALE). */
  env?: Record<string, string>;
  /** Roles of the in-process nodes; default all 'all'. */
  roles?: ('all' | 'gateway' | 'worker')[];
}

export interface TestNode {
  app: App;
  url: string;
  port: number;
}

export interface Cluster {
  env: Record<string, string>;
  nodes: TestNode[];
  token(userId: string, opts?: Parameters<typeof mintToken>[1]): string;
  /** Connects `userId` to node `i` (round robin when omitted). */
  connect(userId: string, i?: number): Promise<ClientSocket>;
  /** Starts another in-process node with the same settings. */
  addNode(extraEnv?: Record<string, string>): Promise<TestNode>;
  /** Starts a node as a child process (`tsx server/main.ts`); resolves once it listens. */
  spawnNode(extraEnv?: Record<string, string>): Promise<SpawnedNode>;
  close(): Promise<void>;
}

export interface SpawnedNode {
  proc: ChildProcess;
  url: string;
  port: number;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
  output(): string;
}

let counter = 0;

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const store = opts.store ?? 'postgres';
  const prefix = freshRedisPrefix();
  const env: Record<string, string> = {
    PORT: '0',
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: prefix,
    STORE: store,
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_TIMEOUT_MS: '8000',
    DELIVERY_BACKOFF_MS: '50',
    ...(store === 'postgres' ? { DATABASE_URL: await freshPostgresUrl() } : { MONGO_URL: freshMongoUrl() }),
    ...opts.env,
  };
  const nodes: TestNode[] = [];
  const spawned: SpawnedNode[] = [];
  let rr = 0;

  async function addNode(extraEnv: Record<string, string> = {}): Promise<TestNode> {
    const config = loadConfig({ ...env, NODE_ID: `test-${process.pid}-${++counter}`, ...extraEnv });
    const app = await createApp(config);
    const { port } = await app.start();
    const node = { app, port, url: `http://127.0.0.1:${port}` };
    nodes.push(node);
    return node;
  }

  async function spawnNode(extraEnv: Record<string, string> = {}): Promise<SpawnedNode> {
    const child = startNodeProcess({
      entry: 'server/main.ts',
      env: { ...env, LOG_LEVEL: 'info', NODE_ID: `spawned-${++counter}`, ...extraEnv },
      keepBytes: Number.POSITIVE_INFINITY, // tests search the whole output (e.g. for leaked tokens)
    });
    const port = await child.listening(30_000).catch(async (err: unknown) => {
      await child.stop(0);
      throw err;
    });
    const node = { proc: child.proc, port, url: `http://127.0.0.1:${port}`, exited: child.exited, output: child.output };
    spawned.push(node);
    return node;
  }

  const roles = opts.roles ?? Array.from({ length: opts.nodes ?? 2 }, () => 'all' as const);
  for (const role of roles) await addNode({ ROLE: role });

  const sockets: ClientSocket[] = [];
  return {
    env,
    nodes,
    token: (userId, o) => mintToken(userId, o),
    async connect(userId, i) {
      const gateways = nodes.filter((n) => n.app.config.role !== 'worker');
      const node = gateways[i ?? rr++ % gateways.length]!;
      const socket = await connectClient(node.url, mintToken(userId));
      sockets.push(socket);
      return socket;
    },
    addNode,
    spawnNode,
    async close() {
      for (const s of sockets) s.close();
      for (const s of spawned) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.app.shutdown('test done').catch(() => {})));
      await deleteRedisPrefix(prefix);
    },
  };
}
