// Deploy step for the MongoDB store: build missing indexes and rebuild changed ones, once per
// release, before the new nodes start (they only create indexes that do not exist, indexes.ts).
//   node dist/server/store/mongo/migrate.js "$MONGO_URL"      (or: npx tsx server/store/mongo/migrate.ts URL)
import { fileURLToPath } from 'node:url';
import { MongoStore } from './mongo.store.js';

export async function migrateMongo(url: string): Promise<void> {
  const store = new MongoStore({ url });
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.argv[2];
  if (!url) {
    console.error('usage: migrate.js <mongodb url>');
    process.exit(2);
  }
  migrateMongo(url).then(
    () => console.log('mongodb indexes up to date'),
    (err: unknown) => {
      console.error(`mongodb migrate failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
