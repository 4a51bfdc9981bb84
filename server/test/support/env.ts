// Per-test-file isolation on the shared services: a fresh PostgreSQL database, a fresh MongoDB
// database name and a fresh Redis key prefix, all named after this run so parallel files and
// repeated runs never clash.
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';

export const redisUrl = (): string => inject('redisUrl');
export const mongoIsReal = (): boolean => inject('mongoIsReal');

function uniqueSuffix(): string {
  return `${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Creates an empty PostgreSQL database for this test file and returns its URL. */
export async function freshPostgresUrl(): Promise<string> {
  const adminUrl = inject('pgAdminUrl');
  const name = `rgt_${inject('runId')}_${uniqueSuffix()}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A MongoDB URL naming a database nobody else uses (created on first write). */
export function freshMongoUrl(): string {
  const url = new URL(inject('mongoBaseUrl'));
  url.pathname = `/rgt_${inject('runId')}_${uniqueSuffix()}`;
  return url.toString();
}

/** A Redis key prefix for this test file (BullMQ, adapter channels, rate limits). */
export function freshRedisPrefix(): string {
  return `rgt:${uniqueSuffix()}`;
}

/** Deletes every key under a prefix; call in afterAll. */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl());
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}
