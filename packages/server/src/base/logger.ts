import { pino, type Logger, type LevelWithSilent } from 'pino';

/** Log keys, as Sync Gateway names its log areas. Every component logs through a child bound to one. */
export const LOG_KEYS = ['HTTP', 'CRUD', 'Sync', 'Import', 'Changes', 'Replicate', 'Auth', 'Config', 'Storage'] as const;
export type LogKey = (typeof LOG_KEYS)[number];

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Only these keys log below `warn`; `*` or undefined means all. */
  keys?: readonly string[];
  /** Write to this destination (file descriptor 1 by default). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const enabled = opts.keys && !opts.keys.includes('*') ? new Set(opts.keys) : null;
  const options = {
    level: opts.level ?? 'info',
    base: null,
    redact: { paths: ['password', '*.password', 'headers.authorization', 'headers.cookie'], censor: '[redacted]' },
    hooks: enabled
      ? {
          logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void, level: number) {
            const key = (this.bindings() as { key?: string }).key;
            if (level < 40 && key !== undefined && !enabled.has(key)) return;
            method.apply(this, args);
          },
        }
      : {},
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A child logger bound to a log key (and optional extra bindings such as a database name or request id). */
export function keyed(logger: Logger, key: LogKey, bindings: Record<string, unknown> = {}): Logger {
  return logger.child({ key, ...bindings });
}

/** Marks user data in logs so that it can be redacted later; kept as a function so call sites stay greppable. */
export function ud(value: unknown): unknown {
  return value;
}
