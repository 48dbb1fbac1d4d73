#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader: no build step between install and start.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
try {
  await main(process.argv);
} catch (err) {
  process.stderr.write(`syncline: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
