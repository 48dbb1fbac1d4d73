import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReference } from './reference.ts';

describe('configuration reference', () => {
  it('in the README matches the schema', async () => {
    const readme = await readFile(resolve(import.meta.dirname, '../../../../README.md'), 'utf8');
    const section = readme.split('<!-- config-reference:start -->\n')[1]?.split('<!-- config-reference:end -->')[0];
    expect(section).toBe(configReference());
  });
});
