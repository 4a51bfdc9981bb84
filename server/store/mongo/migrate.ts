// Deploy step for the MongoDB store: build missing indexes and rebuild changed ones, once per
// release, before the new nodes start (they only create indexes that do not exist, indexes.ts).
//   node dist/server/store/mongo/migrate.js "$MONGO_URL"      (or: npx tsx server/store/mongo/migrate.ts URL)
// and once every node runs the release, to drop indexes no release uses (docs/mongodb.md, Indexes):
//   node dist/server/store/mongo/migrate.js "$MONGO_URL" --drop-retired
import { fileURLToPath } from 'node:url';
import { MongoStore } from './mongo.store.js';

export async function migrateMongo(url: string, opts: { dropRetired?: boolean } = {}): Promise<void> {
  const store = new MongoStore({ url });
  try {
    await store.migrate(opts);
  } finally {
    await store.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [url, flag] = process.argv.slice(2);
  if (!url || (flag !== undefined && flag !== '--drop-retired')) {
    console.error('usage: migrate.js <mongodb url> [--drop-retired]');
    process.exit(2);
  }
  migrateMongo(url, { dropRetired: flag === '--drop-retired' }).then(
    () => console.log('mongodb indexes up to date'),
    (err: unknown) => {
      console.error(`mongodb migrate failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
