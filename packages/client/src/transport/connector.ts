import type { BlipCloseEvent, BlipConnection, IncomingRequest } from '@syncline/protocol';

/** What the replicator gives a transport: where incoming requests go. */
export interface SessionHandlers {
  onRequest(request: IncomingRequest): void | Promise<void>;
}

/** An open BLIP session over some transport. */
export interface Session {
  connection: BlipConnection;
  /** The negotiated subprotocol, e.g. `BLIP_3+CBMobile_3`. */
  protocol: string;
  /** Resolves once when the connection closes, whoever closed it. */
  closed: Promise<BlipCloseEvent>;
}

/** Opens a session; rejects with a ReplicationError when the peer refuses. */
export type Connector = (handlers: SessionHandlers) => Promise<Session>;

export const CBMOBILE_3 = 'BLIP_3+CBMobile_3';
export const CBMOBILE_2 = 'BLIP_3+CBMobile_2';
export const SUBPROTOCOLS: readonly string[] = [CBMOBILE_3, CBMOBILE_2];

/** The CBMobile version of a subprotocol name (2 when unknown). */
export function cbMobileVersion(protocol: string): number {
  const match = /CBMobile_(\d+)$/.exec(protocol);
  return match ? Number(match[1]) : 2;
}
