export { BlipSyncSession, sessionLimits } from './session.ts';
export type { BlipSessionLimits, BlipSessionOptions, BlipTransport } from './session.ts';
export {
  negotiateSubprotocol,
  offeredSubprotocols,
  SUPPORTED_SUBPROTOCOLS,
  UNSUPPORTED_SUBPROTOCOL_MESSAGE,
} from './subprotocol.ts';
export type { CBMobileVersion } from './subprotocol.ts';
