// Starts what the integration tests share for one run: a MongoDB-protocol server (the real
// `mongod` at MONGO_URL when set, else the jongodb test server from npm), and checks that Redis
// and PostgreSQL answer. Every test file then makes its own database / key prefix from these.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from './ports.js';
import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { Redis } from 'ioredis';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    pgAdminUrl: string;
    mongoBaseUrl: string;
    mongoIsReal: boolean;
    runId: string;
  }
}

const require = createRequire(import.meta.url);

function jongodbBinary(): string {
  const pkg = require.resolve('@jongodb/memory-server-bin-linux-x64-gnu/package.json');
  return join(dirname(pkg), 'bin', 'jongodb');
}

async function startJongodb(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(jongodbBinary(), [`--port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`jongodb did not start: ${out}`)), 20_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /JONGODB_URI=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`jongodb exited with ${code}: ${out}`));
    });
  });
  return { url, proc };
}

/** Drops databases left behind by runs that were killed more than six hours ago. */
async function dropStaleDatabases(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'rgt\\_%'",
    );
    const cutoff = Math.floor(Date.now() / 1000) - 6 * 3600;
    for (const { datname } of rows) {
      const ts = Number(datname.split('_')[1]);
      if (Number.isFinite(ts) && ts < cutoff) {
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => {});
      }
    }
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject) {
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const pgAdminUrl = process.env.TEST_DATABASE_URL || 'postgres://root@127.0.0.1:5432/postgres';
  const runId = `${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString('hex')}`;

  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.ping();
  await redis.quit();
  await dropStaleDatabases(pgAdminUrl);

  let jongodb: ChildProcess | undefined;
  let mongoBaseUrl = process.env.MONGO_URL || '';
  const mongoIsReal = Boolean(mongoBaseUrl);
  if (!mongoBaseUrl) {
    const started = await startJongodb();
    jongodb = started.proc;
    mongoBaseUrl = started.url;
  }

  project.provide('redisUrl', redisUrl);
  project.provide('pgAdminUrl', pgAdminUrl);
  project.provide('mongoBaseUrl', mongoBaseUrl);
  project.provide('mongoIsReal', mongoIsReal);
  project.provide('runId', runId);

  return async () => {
    const client = new pg.Client({ connectionString: pgAdminUrl });
    await client.connect();
    const { rows } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [`rgt_${runId}_%`],
    );
    for (const { datname } of rows) {
      await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => {});
    }
    await client.end();
    jongodb?.kill('SIGTERM');
  };
}
