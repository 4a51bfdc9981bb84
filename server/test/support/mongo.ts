// MongoDB test databases: dropped after a test file; jongodb has no dropDatabase (JONGODB.md #4),
// so there the adapter's collections are emptied instead.
import mongoose from 'mongoose';
import { createModels } from '../../store/mongo/models.js';

export async function dropMongoDatabase(url: string): Promise<void> {
  const conn = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 2_000 }).asPromise();
  try {
    await conn.dropDatabase().catch(async () => {
      for (const model of Object.values(createModels(conn))) await conn.db!.collection(model.collection.collectionName).deleteMany({});
    });
  } finally {
    await conn.close();
  }
}
