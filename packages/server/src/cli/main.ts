import { Command, InvalidArgumentError } from 'commander';
import type { AuthStoreOptions } from '../auth/auth-store.ts';
import { isValidScryptParams } from '../auth/password.ts';
import { ConfigError, loadConfigFile, parseServerConfig } from '../config/load.ts';
import { DEFAULT_CONFIG_INPUT } from '../config/schema.ts';
import { startServer } from '../server.ts';
import { addEdgeCommands } from './edge-commands.ts';
import { VERSION } from '../server-context.ts';

/**
 * SYNCLINE_TEST_SCRYPT_N: for test suites only. Hashes new passwords with this (low) scrypt cost so that tests
 * creating many users stay fast. Never set it in production: it weakens every password hashed meanwhile.
 */
function testAuthOptions(): AuthStoreOptions | undefined {
  const raw = process.env['SYNCLINE_TEST_SCRYPT_N'];
  if (raw === undefined || raw === '') return undefined;
  const scrypt = { N: Number(raw), r: 8, p: 1 };
  if (!isValidScryptParams(scrypt)) {
    process.stderr.write('syncline: SYNCLINE_TEST_SCRYPT_N must be a power of two\n');
    process.exit(2);
  }
  return { scrypt };
}

/** Longest a SIGTERM/SIGINT shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function serve(opts: { config?: string }): Promise<void> {
  let config;
  try {
    config = opts.config ? await loadConfigFile(opts.config) : parseServerConfig(DEFAULT_CONFIG_INPUT);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`syncline: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let server;
  try {
    const authOptions = testAuthOptions();
    server = await startServer(config, authOptions ? { authOptions } : {});
    if (authOptions) server.context.logger.warn('SYNCLINE_TEST_SCRYPT_N is set: passwords are hashed with a test-only, weak cost');
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`syncline: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.context.logger.info({ signal }, 'shutting down');
    // A stop that hangs or fails must not keep the process alive.
    setTimeout(() => {
      server.context.logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        server.context.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('syncline')
    .description('Sync server for Couchbase Lite and CouchDB/PouchDB clients on shared SQLite storage')
    .version(VERSION, '-v, --version');
  program
    .command('serve')
    .description('start the public and admin REST APIs for the configured databases')
    .option('-c, --config <file>', 'JSON or JSON5 configuration file (default: database "db" on sqlite:./data/db.sqlite)', (v) => {
      if (!v) throw new InvalidArgumentError('a file name is required');
      return v;
    })
    .action(serve);
  addEdgeCommands(program, () => testAuthOptions()?.scrypt);
  await program.parseAsync(argv);
}
