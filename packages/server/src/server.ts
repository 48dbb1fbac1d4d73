import type { AuthStoreOptions } from './auth/auth-store.ts';
import { createLogger, type Logger } from './base/logger.ts';
import type { ServerConfig } from './config/schema.ts';
import { listen, type Listener } from './http/listener.ts';
import { ServerContext } from './server-context.ts';

export interface RunningServer extends AsyncDisposable {
  context: ServerContext;
  publicUrl: string;
  adminUrl: string;
  /** Undefined when the metrics API is disabled (metricsInterface "" or null). */
  metricsUrl: string | undefined;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Directory that relative storage paths are resolved against (default: the working directory). */
  baseDir?: string;
  /** Options of every database's AuthStore (tests lower the password KDF cost here). */
  authOptions?: AuthStoreOptions;
}

/** Opens the configured databases and starts the public, admin and (unless disabled) metrics listeners. */
export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const level = config.logging.console.log_level;
  const logger = opts.logger ?? createLogger({ level: level === 'none' ? 'silent' : level, keys: config.logging.console.log_keys });
  const context = new ServerContext(config, logger, opts.baseDir ?? process.cwd(), opts.authOptions);
  await context.openConfigured();
  const listeners: Listener[] = [];
  try {
    listeners.push(await listen(context, config.interface, 'public', logger));
    listeners.push(await listen(context, config.adminInterface, 'admin', logger));
    if (config.metricsInterface) listeners.push(await listen(context, config.metricsInterface, 'metrics', logger));
  } catch (err) {
    for (const l of listeners) await l.close();
    await context.close();
    throw err;
  }
  const stop = async () => {
    for (const l of listeners) await l.close();
    await context.close();
  };
  return { context, publicUrl: listeners[0]!.url, adminUrl: listeners[1]!.url, metricsUrl: listeners[2]?.url, stop, [Symbol.asyncDispose]: stop };
}
