/** What `GET /{db}/_config` shows instead of a secret, as Sync Gateway does. */
export const REDACTED = 'xxxxx';

/** A URL with its password (if any) replaced by `mask`; anything else is returned as it is. */
export function redactUrl(url: string, mask = REDACTED): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = mask;
    return parsed.toString();
  } catch {
    return url;
  }
}

function redactEach(entries: unknown, fields: (entry: Record<string, unknown>) => Record<string, unknown>): unknown {
  if (typeof entries !== 'object' || entries === null) return entries;
  return Object.fromEntries(
    Object.entries(entries as Record<string, unknown>).map(([key, entry]) => [
      key,
      typeof entry === 'object' && entry !== null ? fields(entry as Record<string, unknown>) : entry,
    ]),
  );
}

/**
 * A database configuration with its secrets replaced: the password in the storage URL, users' passwords, and
 * replications' passwords (fields and URLs).
 */
export function redactDatabaseConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if (typeof out.server === 'string') out.server = redactUrl(out.server);
  if (out.users !== undefined) {
    out.users = redactEach(out.users, (user) => ('password' in user ? { ...user, password: REDACTED } : user));
  }
  if (out.replications !== undefined) {
    out.replications = redactEach(out.replications, (replication) => {
      const copy = { ...replication };
      if ('password' in copy) copy.password = REDACTED;
      if (typeof copy.remote === 'string') copy.remote = redactUrl(copy.remote);
      return copy;
    });
  }
  return out;
}
