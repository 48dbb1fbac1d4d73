/** Why a BLIP connection or codec failed; stable strings, safe to match on. */
export type BlipErrorCode =
  /** A varint is truncated, longer than ten bytes, or larger than the value allowed where it appears. */
  | 'bad-varint'
  /** A frame is too short, refers to an unexpected message number, or has an unknown message type. */
  | 'bad-frame'
  /** A frame's CRC32 does not match the running checksum of the bytes received. */
  | 'bad-checksum'
  /** A compressed frame is not valid raw deflate data, or it is not made of complete blocks. */
  | 'bad-deflate'
  /** A message's properties are malformed (not NUL-terminated, odd count, invalid UTF-8, too large). */
  | 'bad-properties'
  /** A configured bound (frame, message, pending bytes, inflated size) was exceeded. */
  | 'limit-exceeded'
  /** An outgoing message cannot be encoded (NUL in a property, properties too large). */
  | 'invalid-message'
  /** The connection is closed, or closed while the operation was in progress. */
  | 'closed'
  /** The transport's send function threw. */
  | 'transport';

/** The only error type the BLIP layer throws or reports. */
export class BlipError extends Error {
  readonly code: BlipErrorCode;

  constructor(code: BlipErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BlipError';
    this.code = code;
  }
}
