// A private redis-server on a random port, for tests that stop and restart Redis without
// disturbing the shared one.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { Redis } from 'ioredis';

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop). */
  restart(): Promise<void>;
  /** Stops it and deletes its append-only file, if any. */
  remove(): Promise<void>;
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

export interface PrivateRedisOptions {
  /** Append-only file fsynced on every write, so a restart (even after SIGKILL) keeps every acknowledged write. */
  aof?: boolean;
}

export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = opts.aof ? mkdtempSync(join(tmpdir(), 'rg-redis-')) : undefined;
  const persistence = dir ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let proc: ChildProcess | undefined;
  const start = async () => {
    let output = '';
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--maxmemory-policy', 'noeviction'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-2000)));
    proc.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-2000)));
    await waitUntil(() => answers(port), 10_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message} (port ${port}, exit ${proc?.exitCode}): ${output}`);
    });
  };
  const stop = async () => {
    proc?.kill('SIGKILL');
    await waitUntil(async () => !(await answers(port)), 10_000);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: start,
    async remove() {
      await stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
