export { computeAccess, roleChannels, roleJson, userJson, NO_GRANTS } from './access.ts';
export type { Access, AccessGrants, AccessView, RoleJson, UserJson } from './access.ts';
export { AuthStore, type AuthStoreOptions, type PutOptions, type PutResult } from './auth-store.ts';
export { applyConfigPrincipals, type ConfigPrincipals } from './config-principals.ts';
export { DEFAULT_SCRYPT_PARAMS, hashPassword, verifyPassword, type ScryptParams } from './password.ts';
export {
  GUEST_USERNAME,
  PUBLIC_CHANNEL,
  STAR_CHANNEL,
  isValidChannelName,
  isValidEmail,
  isValidPrincipalName,
  parseRoleBody,
  parseUserBody,
  type RoleUpdate,
  type UserUpdate,
} from './principal.ts';
export type { RevokedMap, RoleRecord, SinceMap, UserRecord } from './records.ts';
export { DEFAULT_SESSION_TTL_SECONDS, SESSION_COOKIE_NAME, type ActiveSession, type SessionInfo } from './sessions.ts';
