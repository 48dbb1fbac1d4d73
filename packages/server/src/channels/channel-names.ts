/**
 * Channel names as Sync Gateway accepts them: letters (any script), decimal digits and `-+=/_.@`; the star
 * channel `*` (all channels) and the public channel `!` stand alone.
 */
const VALID_CHANNEL = /^(?:[-+=/_.@\p{L}\p{Nd}]+|\*|!)$/u;

export const STAR_CHANNEL = '*';
export const PUBLIC_CHANNEL = '!';

export function isValidChannelName(name: string): boolean {
  return VALID_CHANNEL.test(name);
}
