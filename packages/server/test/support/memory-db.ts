import { createLogger } from '../../src/base/logger.ts';
import { parseDatabaseConfig } from '../../src/config/load.ts';
import { Database } from '../../src/db/database.ts';
import { openBucket } from '../../src/storage/open.ts';

/** A Database over an in-memory SQLite bucket, for tests of the database core without HTTP. */
export async function memoryDatabase(config: Record<string, unknown> = {}): Promise<Database> {
  const bucket = await openBucket('sqlite::memory:');
  return Database.open('db', parseDatabaseConfig('db', { server: 'sqlite::memory:', ...config }), bucket, createLogger({ level: 'silent' }), 'test');
}
