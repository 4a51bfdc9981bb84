// Picks the store adapter from configuration. Adapters load lazily so a PostgreSQL node never
// loads mongoose and vice versa.
import type { Config } from '../config.js';
import type { Store } from './store.js';

export async function createStore(config: Config['store']): Promise<Store> {
  if (config.kind === 'postgres') {
    const { PostgresStore } = await import('./postgres/postgres.store.js');
    return new PostgresStore({ url: config.url, poolSize: config.poolSize });
  }
  const { MongoStore } = await import('./mongo/mongo.store.js');
  return new MongoStore({ url: config.url });
}
