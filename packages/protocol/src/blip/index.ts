export {
  BIG_FRAME_SIZE,
  BLIP_ERROR_DOMAIN,
  CHECKSUM_BYTES,
  DEFAULT_FRAME_SIZE,
  ERROR_CODE_PROPERTY,
  ERROR_DOMAIN_PROPERTY,
  FrameFlag,
  INCOMING_ACK_THRESHOLD,
  MAX_PROPERTIES_BYTES,
  MAX_UNACKED_BYTES,
  MESSAGE_TYPE_NAMES,
  MessageType,
  PROFILE_PROPERTY,
} from './constants.ts';
export { BlipError } from './errors.ts';
export type { BlipErrorCode } from './errors.ts';
export { encodeUVarint, readUVarint, readUVarint64, uvarintLength, writeUVarint, MAX_VARINT_BYTES } from './varint.ts';
export type { Cursor } from './varint.ts';
export { decodeFrame, encodeFrame, isAckType } from './frame.ts';
export type { Frame } from './frame.ts';
export { InputCodec, OutputCodec } from './codec.ts';
export { decodeProperties, encodeProperties } from './properties.ts';
export type { BlipProperties, PropertiesInit } from './properties.ts';
export { encodeMessagePayload, IncomingMessage, MessageAssembler } from './message.ts';
export type { BlipErrorInfo, OutgoingMessage } from './message.ts';
export { IncomingRequest } from './incoming-request.ts';
export type { ErrorReply } from './incoming-request.ts';
export { MessageOut, Outbox } from './outbox.ts';
export {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_MAX_PENDING_REQUESTS,
} from './connection-options.ts';
export { BlipConnection } from './connection.ts';
export type { BlipCloseEvent, BlipConnectionOptions, BlipConnectionStats, OutgoingRequest } from './connection-options.ts';
export { LoopbackPair } from './loopback.ts';
export type { LoopbackOptions } from './loopback.ts';
