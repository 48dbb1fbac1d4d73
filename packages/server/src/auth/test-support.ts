import { Writable } from 'node:stream';
import { createLogger } from '../base/logger.ts';
import type { Bucket } from '../storage/bucket.ts';
import { openBucket } from '../storage/open.ts';
import { AuthStore, type AuthStoreOptions } from './auth-store.ts';
import type { ScryptParams } from './password.ts';

/** Cheap KDF cost so that the tests stay fast. */
export const TEST_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };

export interface TestStore {
  store: AuthStore;
  bucket: Bucket;
  /** Parsed log lines written so far. */
  logs: Array<Record<string, unknown>>;
  /** Raw log output (to check that secrets never appear). */
  rawLog: () => string;
}

export async function openTestStore(opts: AuthStoreOptions = {}, wrap?: (b: Bucket) => Bucket): Promise<TestStore> {
  const bucket = await openBucket('sqlite::memory:');
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const store = new AuthStore(wrap ? wrap(bucket) : bucket, logger, { scrypt: TEST_SCRYPT, ...opts });
  return { store, bucket, logs, rawLog: () => raw };
}
