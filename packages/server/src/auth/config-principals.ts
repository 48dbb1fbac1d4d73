import { badRequest, isSynclineError } from '../base/errors.ts';

/** `users` / `roles` of a database config: name → the same properties as the REST bodies. */
export interface ConfigPrincipals {
  users?: Readonly<Record<string, unknown>>;
  roles?: Readonly<Record<string, unknown>>;
}

interface PrincipalWriter {
  putUser(name: string, body: unknown): Promise<{ created: boolean; changed: boolean }>;
  putRole(name: string, body: unknown): Promise<{ created: boolean; changed: boolean }>;
}

/**
 * Creates or updates the users and roles declared in the database config (roles first, so users can refer
 * to them). Idempotent: an unchanged declaration writes nothing, and a password that already matches is not
 * rehashed (so restarting does not end sessions either). Fields a declaration leaves out keep the value set
 * through the REST API. Each write is stamped with its own sequence (see AuthStore.putUser).
 */
export async function applyConfigPrincipals(
  store: PrincipalWriter,
  config: ConfigPrincipals,
): Promise<{ created: number; updated: number }> {
  const counts = { created: 0, updated: 0 };
  const apply = async (kind: 'role' | 'user', name: string, body: unknown): Promise<void> => {
    try {
      const r = kind === 'role' ? await store.putRole(name, body) : await store.putUser(name, body);
      if (r.created) counts.created++;
      else if (r.changed) counts.updated++;
    } catch (err) {
      if (isSynclineError(err) && err.status === 400) {
        throw badRequest(`Invalid config for ${kind} "${name}": ${err.reason}`);
      }
      throw err;
    }
  };
  for (const [name, body] of Object.entries(config.roles ?? {})) await apply('role', name, body);
  for (const [name, body] of Object.entries(config.users ?? {})) await apply('user', name, body);
  return counts;
}
