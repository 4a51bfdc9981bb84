// A private redis-server on a random port, for tests that stop and restart Redis without
// disturbing the shared one.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './ports.js';
import { Redis } from 'ioredis';

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop). */
  restart(): Promise<void>;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not change state in time');
}

async function answers(port: number): Promise<boolean> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    let output = '';
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-2000)));
    proc.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-2000)));
    await waitUntil(() => answers(port), 10_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message} (port ${port}, exit ${proc?.exitCode}): ${output}`);
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      proc?.kill('SIGKILL');
      await waitUntil(async () => !(await answers(port)), 10_000);
    },
    restart: start,
  };
}
