// writesPerTick: the commands of one tick leave in one socket write, in order, on a real Redis,
// and again after a reconnect (a new socket).
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { writesPerTick } from './redis.js';
import { redisUrl } from './test/support/env.js';

type Spied = { _writev?: (...a: unknown[]) => void; _write: (...a: unknown[]) => void };

/** Counts the socket-level writes (one `_write` or `_writev` call each) of the client's current socket. */
function countWrites(client: Redis): () => number {
  const socket = (client as unknown as { stream: Spied }).stream;
  let writes = 0;
  for (const key of ['_write', '_writev'] as const) {
    const original = socket[key]!.bind(socket);
    socket[key] = (...args: unknown[]) => {
      writes++;
      original(...args);
    };
  }
  return () => writes;
}

const clients: Redis[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
});

async function connected(corked: boolean): Promise<Redis> {
  const client = new Redis(redisUrl(), { lazyConnect: true });
  clients.push(corked ? writesPerTick(client) : client);
  await client.connect();
  return client;
}

describe('writesPerTick', () => {
  it('sends the commands of one tick in one write, in order, and the next tick in another', async () => {
    const client = await connected(true);
    const writes = countWrites(client);
    const key = `wpt:${process.pid}:${Date.now()}`;
    const first = Promise.all([client.set(key, 'a'), client.append(key, 'b'), client.append(key, 'c'), client.get(key)]);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes()).toBe(1);
    expect(await first).toEqual(['OK', 2, 3, 'abc']);
    await Promise.all([client.del(key), client.get(key)]);
    expect(writes()).toBe(2);
  });

  it('without it, each command is its own write (what the test above would see)', async () => {
    const client = await connected(false);
    const writes = countWrites(client);
    await Promise.all([client.ping(), client.ping(), client.ping()]);
    expect(writes()).toBe(3);
  });

  it('keeps batching on the socket of a reconnect', async () => {
    const client = await connected(true);
    const reconnected = new Promise((resolve) => client.once('ready', resolve));
    (client as unknown as { stream: { destroy(): void } }).stream.destroy();
    await reconnected;
    const writes = countWrites(client);
    expect(await Promise.all([client.ping(), client.ping(), client.echo('x')])).toEqual(['PONG', 'PONG', 'x']);
    expect(writes()).toBe(1);
  });
});
