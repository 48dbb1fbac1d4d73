import {
  BLIP_ERROR_DOMAIN,
  ERROR_CODE_PROPERTY,
  ERROR_DOMAIN_PROPERTY,
  FrameFlag,
  MAX_PROPERTIES_BYTES,
  MESSAGE_TYPE_NAMES,
  MessageType,
  PROFILE_PROPERTY,
} from './constants.ts';
import { BlipError } from './errors.ts';
import { decodeProperties, encodeProperties } from './properties.ts';
import type { BlipProperties, PropertiesInit } from './properties.ts';
import { readUVarint, uvarintLength, writeUVarint } from './varint.ts';
import type { Cursor } from './varint.ts';

/** A message to send: properties, a body, and per-message options. */
export interface OutgoingMessage {
  properties?: PropertiesInit;
  /** Bytes, or a string sent as UTF-8. */
  body?: Uint8Array | string;
  /** Deflate this message's frames. */
  compressed?: boolean;
  /** Give this message priority over normal ones (without starving them). */
  urgent?: boolean;
}

/** A BLIP error reply: `Error-Domain` (default `BLIP`), `Error-Code`, and the body as the message. */
export interface BlipErrorInfo {
  domain: string;
  code: number;
  message: string;
}

/**
 * The bytes a message is split into frames from: varint properties length, properties, body
 * (`docs/BLIP Protocol.md` §3.4; the length is written even when it is zero).
 */
export function encodeMessagePayload(properties: PropertiesInit | undefined, body: Uint8Array | string | undefined): Uint8Array {
  const props = encodeProperties(properties);
  const bodyLength = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const prefix = uvarintLength(props.length);
  const out = Buffer.allocUnsafe(prefix + props.length + bodyLength);
  let pos = writeUVarint(out, 0, props.length);
  out.set(props, pos);
  pos += props.length;
  if (typeof body === 'string') out.write(body, pos, 'utf8');
  else if (body !== undefined) out.set(body, pos);
  return out;
}

/** The properties of an error reply. */
export function errorProperties(error: BlipErrorInfo, extra?: PropertiesInit): PropertiesInit {
  const props: [string, string][] = [
    [ERROR_DOMAIN_PROPERTY, error.domain],
    [ERROR_CODE_PROPERTY, String(Math.trunc(error.code))],
  ];
  if (extra !== undefined) {
    const entries = Symbol.iterator in extra ? [...(extra as Iterable<readonly [string, unknown]>)] : Object.entries(extra);
    for (const [key, value] of entries) {
      if (value !== undefined && key !== ERROR_DOMAIN_PROPERTY && key !== ERROR_CODE_PROPERTY) props.push([key, String(value)]);
    }
  }
  return props;
}

/** A complete incoming message (request or reply). */
export class IncomingMessage {
  readonly number: number;
  /** Message type and the Urgent, NoReply and Compressed flags of its first frame. */
  readonly flags: number;
  readonly properties: BlipProperties;
  readonly body: Buffer;

  constructor(number: number, flags: number, properties: BlipProperties, body: Buffer) {
    this.number = number;
    this.flags = flags;
    this.properties = properties;
    this.body = body;
  }

  get type(): number {
    return this.flags & FrameFlag.typeMask;
  }
  get typeName(): string {
    return MESSAGE_TYPE_NAMES[this.type]!;
  }
  get urgent(): boolean {
    return (this.flags & FrameFlag.urgent) !== 0;
  }
  get noReply(): boolean {
    return (this.flags & FrameFlag.noReply) !== 0;
  }
  get compressed(): boolean {
    return (this.flags & FrameFlag.compressed) !== 0;
  }
  /** The `Profile` property: the request's kind, e.g. `getCheckpoint`. */
  get profile(): string | undefined {
    return this.properties[PROFILE_PROPERTY];
  }
  get isError(): boolean {
    return this.type === MessageType.error;
  }
  /** For an error reply, its domain, code and message (LiteCore's `MessageIn::getError`). */
  get error(): BlipErrorInfo | undefined {
    if (!this.isError) return undefined;
    const code = Number.parseInt(this.properties[ERROR_CODE_PROPERTY] ?? '', 10);
    return {
      domain: this.properties[ERROR_DOMAIN_PROPERTY] ?? BLIP_ERROR_DOMAIN,
      code: Number.isFinite(code) ? code : 0,
      message: this.body.toString('utf8'),
    };
  }
  property(name: string): string | undefined {
    return this.properties[name];
  }
  bodyText(): string {
    return this.body.toString('utf8');
  }
  /** The body parsed as JSON; `undefined` when the body is empty. Throws SyntaxError on invalid JSON. */
  bodyJSON(): unknown {
    return this.body.length === 0 ? undefined : (JSON.parse(this.body.toString('utf8')) as unknown);
  }
}

export interface AssemblerLimits {
  /** Largest body accepted for one message. */
  maxBodyBytes: number;
}

const cursor: Cursor = { pos: 0 };

/**
 * Collects the decoded frames of one incoming message. The properties length must be complete in the
 * first frame (LiteCore reads it from there); the properties may span frames.
 */
export class MessageAssembler {
  readonly number: number;
  flags = -1;
  /** Bytes received of this message as transmitted (after the header: body plus checksum). */
  rawBytesReceived = 0;
  /** Raw bytes received since the last ACK was sent. */
  unackedBytes = 0;
  #props: Uint8Array | undefined;
  #propsFilled = 0;
  #chunks: Uint8Array[] = [];
  #bodyLength = 0;
  readonly #limits: AssemblerLimits;

  constructor(number: number, limits: AssemblerLimits) {
    this.number = number;
    this.#limits = limits;
  }

  /** Bytes held so far (properties and body). */
  get bufferedBytes(): number {
    return this.#propsFilled + this.#bodyLength;
  }

  /**
   * Adds one frame's decoded data. `frameFlags` of the first frame become the message's flags (the
   * reply to a request may turn out to be an ERR). Throws BlipError on malformed or oversized data.
   */
  add(data: Uint8Array, frameFlags: number): void {
    let pos = 0;
    if (this.flags < 0) {
      this.flags = frameFlags & ~FrameFlag.moreComing;
      cursor.pos = 0;
      let propsLength: number;
      try {
        propsLength = readUVarint(data, cursor);
      } catch (err) {
        throw new BlipError('bad-frame', "first frame too small to hold the properties' length", { cause: err });
      }
      if (propsLength > MAX_PROPERTIES_BYTES) {
        throw new BlipError('bad-properties', `properties length ${propsLength} exceeds ${MAX_PROPERTIES_BYTES}`);
      }
      this.#props = new Uint8Array(propsLength);
      pos = cursor.pos;
    }
    const props = this.#props!;
    if (this.#propsFilled < props.length) {
      const n = Math.min(props.length - this.#propsFilled, data.length - pos);
      props.set(data.subarray(pos, pos + n), this.#propsFilled);
      this.#propsFilled += n;
      pos += n;
    }
    if (pos < data.length) {
      const n = data.length - pos;
      if (this.#bodyLength + n > this.#limits.maxBodyBytes) {
        throw new BlipError('limit-exceeded', `message body exceeds ${this.#limits.maxBodyBytes} bytes`);
      }
      this.#chunks.push(pos === 0 ? data : data.subarray(pos));
      this.#bodyLength += n;
    }
  }

  /** Builds the message after its last frame. Throws BlipError if the properties are incomplete or malformed. */
  finish(): IncomingMessage {
    const props = this.#props;
    if (props === undefined || this.#propsFilled < props.length) {
      throw new BlipError('bad-properties', 'message ends before the end of its properties');
    }
    const properties = decodeProperties(props);
    const chunks = this.#chunks;
    let body: Buffer;
    if (chunks.length === 1) {
      const only = chunks[0]!;
      body = Buffer.isBuffer(only) ? only : Buffer.from(only.buffer, only.byteOffset, only.length);
    } else {
      body = Buffer.concat(chunks, this.#bodyLength);
    }
    this.#chunks = [];
    return new IncomingMessage(this.number, this.flags, properties, body);
  }
}
