/**
 * The value given to the sync function's `expiry()` turned into an absolute Unix time in seconds, following
 * Couchbase's convention for numbers: up to 30 days is an offset from now, anything larger is already absolute.
 * Numeric strings count as numbers; other strings must be ISO-8601 dates (with a time zone when a time is given).
 */
export const RELATIVE_EXPIRY_LIMIT = 30 * 24 * 60 * 60;
const MAX_EXPIRY = 0xffffffff;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

/** `{ expiry }` with undefined for "no expiry" (0), or `{ invalid }` with the reason. */
export type ExpiryConversion = { expiry: number | undefined } | { invalid: string };

export function convertExpiry(value: number | string, nowSeconds: number): ExpiryConversion {
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+$/.test(text)) return fromNumber(Number(text), nowSeconds);
    if (!ISO_DATE.test(text)) return { invalid: `expiry() ignored ${JSON.stringify(value)}: not a number or an ISO-8601 date` };
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) return { invalid: `expiry() ignored ${JSON.stringify(value)}: not a valid date` };
    return inRange(Math.floor(ms / 1000), value);
  }
  return fromNumber(value, nowSeconds);
}

function fromNumber(value: number, nowSeconds: number): ExpiryConversion {
  if (!Number.isFinite(value) || value < 0) return { invalid: `expiry() ignored ${value}: must be a positive number` };
  const seconds = Math.floor(value);
  if (seconds === 0) return { expiry: undefined };
  return inRange(seconds <= RELATIVE_EXPIRY_LIMIT ? nowSeconds + seconds : seconds, value);
}

function inRange(absolute: number, original: number | string): ExpiryConversion {
  if (absolute <= 0 || absolute > MAX_EXPIRY) return { invalid: `expiry() ignored ${JSON.stringify(original)}: out of range` };
  return { expiry: absolute };
}
