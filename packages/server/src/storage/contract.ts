import { afterEach, beforeEach, describe } from 'vitest';
import type { Bucket } from './bucket.ts';
import { collectionContract, commitManyContract } from './contract-batch.ts';
import { commitContract } from './contract-commit.ts';
import { countContract } from './contract-counts.ts';
import { grantsContract } from './contract-grants.ts';
import { mutationContract } from './contract-mutations.ts';
import { changesContract, scanContract } from './contract-queries.ts';
import { blobContract, recordContract } from './contract-records.ts';
import { tombstoneContract } from './contract-tombstones.ts';
import type { BucketContractOptions, ContractEnv } from './contract-support.ts';

export type { BucketContractOptions, DirectWriter } from './contract-support.ts';

/**
 * The behaviour every storage engine must have. An engine's test file calls this with a factory returning a
 * fresh, empty bucket per test; `options.directWriter` enables the tests of writes made by other clients.
 */
export function runBucketContract(
  name: string,
  makeBucket: () => Promise<Bucket>,
  options: BucketContractOptions = {},
): void {
  describe(`Bucket contract: ${name}`, () => {
    const env = { options } as ContractEnv;

    beforeEach(async () => {
      env.bucket = await makeBucket();
      env.coll = await env.bucket.collection();
    });

    afterEach(async () => {
      await env.bucket.close();
    });

    commitContract(env);
    commitManyContract(env);
    changesContract(env);
    scanContract(env);
    countContract(env);
    mutationContract(env);
    grantsContract(env);
    tombstoneContract(env);
    collectionContract(env);
    blobContract(env);
    recordContract(env);
  });
}
