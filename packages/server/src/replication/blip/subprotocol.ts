/**
 * WebSocket subprotocols of Couchbase Lite replication: BLIP's version joined to the application protocol
 * (Sync Gateway's `db/blip_subprotocol.go`, go-blip's `BLIP_3+` prefix). CBMobile_2 is Couchbase Lite 2.x;
 * CBMobile_3 adds revocations and removal flags in `changes` entries.
 */
export type CBMobileVersion = 2 | 3;

const BLIP_PREFIX = 'BLIP_3+';
const APP_PREFIX = 'CBMobile_';

/** Supported versions, most preferred first. */
export const SUPPORTED_VERSIONS: readonly CBMobileVersion[] = [3, 2];

export const subprotocolName = (version: CBMobileVersion): string => `${BLIP_PREFIX}${APP_PREFIX}${version}`;

export const SUPPORTED_SUBPROTOCOLS: readonly string[] = SUPPORTED_VERSIONS.map(subprotocolName);

/** Values of `Sec-WebSocket-Protocol` (a comma-separated list, possibly repeated). */
export function offeredSubprotocols(header: string | readonly string[] | undefined): string[] {
  if (header === undefined) return [];
  const text = typeof header === 'string' ? header : header.join(',');
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The newest supported subprotocol among those offered, or undefined when none is acceptable. */
export function negotiateSubprotocol(offered: Iterable<string>): { name: string; version: CBMobileVersion } | undefined {
  const set = new Set(offered);
  for (const version of SUPPORTED_VERSIONS) {
    const name = subprotocolName(version);
    if (set.has(name)) return { name, version };
  }
  return undefined;
}

/** go-blip's refusal text when no offered subprotocol is supported. */
export const UNSUPPORTED_SUBPROTOCOL_MESSAGE = `I only speak ${SUPPORTED_SUBPROTOCOLS.join(',')} protocols`;
