/**
 * From what a sync function recorded (raw, as the builtins received it) to the validated SyncResult. Shared by
 * the sandboxed runner and the native fast path so that both give the same answer.
 */
import { badRequest, forbidden, internalError, unauthorized } from '../base/errors.ts';
import type { SynclineError } from '../base/errors.ts';
import { isValidChannelName, STAR_CHANNEL } from './channel-names.ts';
import { convertExpiry } from './expiry.ts';

export interface SyncRejection {
  status: number;
  reason: string;
}

export interface SyncResult {
  channels: string[];
  /** Grantee (user name or `role:name`) → channels. */
  access: Record<string, string[]>;
  /** User name → role names, without the `role:` prefix. */
  roles: Record<string, string[]>;
  /** Absolute Unix time in seconds. */
  expiry?: number;
  rejection?: SyncRejection;
  warnings: string[];
}

/** What the in-sandbox builtins record; see prelude.ts. */
export interface RawSyncOutput {
  ch: string[];
  acc: [string[], string[]][];
  roles: [string[], string[]][];
  warn: string[];
  exp?: number | string;
  rej?: SyncRejection;
  reset?: 1;
}

const ROLE_PREFIX = 'role:';

export function rejected(status: number, reason: string, warnings: string[] = []): SyncResult {
  return { channels: [], access: {}, roles: {}, rejection: { status, reason }, warnings: unique(warnings) };
}

export function finalizeSyncOutput(raw: RawSyncOutput, nowSeconds: number): SyncResult {
  const warnings = [...raw.warn];
  if (raw.rej) return rejected(raw.rej.status, raw.rej.reason, warnings);

  const channels = unique(raw.ch);
  const badChannel = channels.find((c) => !isValidChannelName(c));
  if (badChannel !== undefined) return rejected(500, `Illegal channel name ${JSON.stringify(badChannel)}`, warnings);

  const access: Record<string, string[]> = {};
  for (const [grantees, granted] of raw.acc) {
    const bad = granted.find((c) => !isValidChannelName(c));
    if (bad !== undefined) return rejected(500, `Illegal channel name ${JSON.stringify(bad)}`, warnings);
    grant(access, grantees, granted);
  }

  // Sync Gateway refuses role names written without the prefix; here they are skipped with a warning instead,
  // so that one sloppy grant does not reject the whole write.
  const roles: Record<string, string[]> = {};
  for (const [users, written] of raw.roles) {
    const names: string[] = [];
    for (const value of written) {
      const name = value.startsWith(ROLE_PREFIX) ? value.slice(ROLE_PREFIX.length) : null;
      if (name === null || name === STAR_CHANNEL) {
        warnings.push(`role() ignored ${JSON.stringify(value)}: role names must be written "role:name"`);
      } else if (!isValidChannelName(name)) {
        return rejected(500, `Illegal role name ${JSON.stringify(name)}`, warnings);
      } else {
        names.push(name);
      }
    }
    grant(roles, users, names);
  }

  const result: SyncResult = { channels, access, roles, warnings };
  if (raw.exp !== undefined) {
    const converted = convertExpiry(raw.exp, nowSeconds);
    if ('invalid' in converted) warnings.push(converted.invalid);
    else if (converted.expiry !== undefined) result.expiry = converted.expiry;
  }
  result.warnings = unique(warnings);
  return result;
}

/** The client-facing error for a rejected write. */
export function toError(rejection: SyncRejection): SynclineError {
  if (rejection.status === 403) return forbidden(rejection.reason);
  if (rejection.status === 401) return unauthorized(rejection.reason);
  if (rejection.status === 400) return badRequest(rejection.reason);
  return internalError(rejection.reason);
}

function grant(map: Record<string, string[]>, grantees: readonly string[], values: readonly string[]): void {
  if (values.length === 0) return;
  for (const grantee of grantees) {
    if (grantee === '') continue;
    const existing = Object.hasOwn(map, grantee) ? map[grantee] : undefined;
    const merged = existing === undefined ? unique(values) : unique([...existing, ...values]);
    // defineProperty, because a grantee may well be named "__proto__".
    Object.defineProperty(map, grantee, { value: merged, enumerable: true, writable: true, configurable: true });
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
