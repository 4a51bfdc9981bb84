// A digest of everything a test database stores, so a test can assert that refused requests
// changed nothing: per table (PostgreSQL) or collection (MongoDB) the row count and a hash over
// the full content of every row or document. Counts alone would miss an edited message or a
// moved watermark. The result is JSON keyed by table, so a failing `toBe` names what changed.
import { createHash } from 'node:crypto';
import mongoose from 'mongoose';
import pg from 'pg';
import { createModels } from '../../store/mongo/models.js';

export interface DbSnapshot {
  /** The digest of the whole database now. */
  digest(): Promise<string>;
  close(): Promise<void>;
}

/** Opens a digest on the store a test cluster uses (`STORE` and its URL in the cluster's env). */
export async function openSnapshot(env: Record<string, string>): Promise<DbSnapshot> {
  if (env.STORE === 'mongo') return openMongoSnapshot(env.MONGO_URL!);
  const db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
  return { digest: () => snapshot(db), close: () => db.end() };
}

/** PostgreSQL: every table of the `public` schema, each row as its text form, in a stable order. */
export async function snapshot(db: pg.Client): Promise<string> {
  const { rows: tables } = await db.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
  );
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const { rows } = await db.query<{ n: string; h: string }>(
      `SELECT count(*) AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS h FROM ${pg.escapeIdentifier(name)} t`,
    );
    out[name] = `${rows[0]!.n}:${rows[0]!.h}`;
  }
  return JSON.stringify(out);
}

async function openMongoSnapshot(url: string): Promise<DbSnapshot> {
  const conn = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 2_000 }).asPromise();
  // The adapter's collections, plus any other the server lists (jongodb has no listCollections).
  const known = Object.values(createModels(conn)).map((m) => m.collection.collectionName);
  return {
    async digest() {
      const listed = await conn.db!.listCollections({}, { nameOnly: true }).toArray().catch(() => []);
      const names = [...new Set([...known, ...listed.map((c) => c.name)])].sort();
      const out: Record<string, string> = {};
      for (const name of names) {
        const docs = await conn.db!.collection(name).find({}).sort({ _id: 1 }).toArray();
        const hash = createHash('sha256');
        for (const doc of docs) hash.update(mongoose.mongo.BSON.EJSON.stringify(doc, { relaxed: false })).update('\n');
        out[name] = `${docs.length}:${hash.digest('hex')}`;
      }
      return JSON.stringify(out);
    },
    close: () => conn.close(),
  };
}
