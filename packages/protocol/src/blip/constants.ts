/**
 * Wire constants of BLIP 3, as Couchbase Lite (LiteCore) sends them.
 *
 * `docs/BLIP Protocol.md` prints a different flag table (Compressed 0x04, Urgent 0x08, ...) whose
 * Compressed bit falls inside the type mask; the values below are the ones in LiteCore's
 * `Networking/BLIP/BLIPProtocol.hh` and go-blip's `protocol.go`, which is what peers put on the wire.
 */

/** Message types, held in the low three bits of the frame flags (BLIPProtocol.hh `MessageType`). */
export const MessageType = {
  /** A request (`MSG`), initiated by a peer. */
  request: 0,
  /** A reply (`RPY`) to a request. */
  response: 1,
  /** An error reply (`ERR`) to a request. */
  error: 2,
  /** Acknowledgement of bytes received of an incoming request (`ACKMSG`). */
  ackRequest: 4,
  /** Acknowledgement of bytes received of an incoming reply (`ACKRPY`). */
  ackResponse: 5,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Frame flag bits (BLIPProtocol.hh `FrameFlags`). */
export const FrameFlag = {
  typeMask: 0x07,
  compressed: 0x08,
  urgent: 0x10,
  noReply: 0x20,
  moreComing: 0x40,
} as const;

/** The flag bits this implementation understands; any other bit is ignored, as the spec requires. */
export const KNOWN_FLAGS = 0x7f;

/** Size of the big-endian CRC32 that ends every frame except ACKs (Codec.hh `kChecksumSize`). */
export const CHECKSUM_BYTES = 4;

/** Usual size of a whole outgoing frame, header included (BLIPConnection.cc `kDefaultFrameSize`). */
export const DEFAULT_FRAME_SIZE = 4096;
/**
 * Largest outgoing frame (BLIPConnection.cc `kBigFrameSize`). LiteCore uses it unless a normal message
 * is about to be followed by an urgent one, when it falls back to DEFAULT_FRAME_SIZE.
 */
export const BIG_FRAME_SIZE = 16384;

/** Receiver sends an ACK each time this many more bytes of one message arrived (Message.cc `kIncomingAckThreshold`). */
export const INCOMING_ACK_THRESHOLD = 50_000;
/** Sender pauses a message once this many of its bytes are unacknowledged (MessageOut.hh `kMaxUnackedBytes`). */
export const MAX_UNACKED_BYTES = 128_000;

/** Largest encoded properties block LiteCore builds or accepts (BLIPProtocol.hh `kMaxPropertiesSize`). */
export const MAX_PROPERTIES_BYTES = 100 * 1024;

/** Default error domain, whose codes follow HTTP statuses (BLIPProtocol.hh `kBLIPErrorDomain`). */
export const BLIP_ERROR_DOMAIN = 'BLIP';
export const PROFILE_PROPERTY = 'Profile';
export const ERROR_DOMAIN_PROPERTY = 'Error-Domain';
export const ERROR_CODE_PROPERTY = 'Error-Code';

/** Short names used in logs and errors, indexed by message type. */
export const MESSAGE_TYPE_NAMES = ['MSG', 'RPY', 'ERR', '?3?', 'ACKMSG', 'ACKRPY', '?6?', '?7?'] as const;
