import { BLIP_ERROR_DOMAIN, FrameFlag, MessageType } from './constants.ts';
import { BlipError } from './errors.ts';
import { encodeMessagePayload, errorProperties, IncomingMessage } from './message.ts';
import type { BlipErrorInfo, OutgoingMessage } from './message.ts';
import { MessageOut } from './outbox.ts';
import type { BlipProperties, PropertiesInit } from './properties.ts';

/** What `respondWithError` takes; the domain defaults to `BLIP` and the message to empty. */
export interface ErrorReply {
  domain?: string;
  code: number;
  message?: string;
  /** Extra properties for the error reply. */
  properties?: PropertiesInit;
}

/** Hands a reply to the connection that received the request. */
export type Responder = (reply: MessageOut) => void;

/** A complete incoming request, which the application answers once with `respond` or `respondWithError`. */
export class IncomingRequest extends IncomingMessage {
  readonly #responder: Responder;
  readonly #allowCompression: boolean;
  #responded = false;

  constructor(
    number: number,
    flags: number,
    properties: BlipProperties,
    body: Buffer,
    responder: Responder,
    allowCompression: boolean,
  ) {
    super(number, flags, properties, body);
    this.#responder = responder;
    this.#allowCompression = allowCompression;
  }

  /** True once a reply was sent, or if the request asked for none. */
  get responded(): boolean {
    return this.#responded || this.noReply;
  }

  /** Sends a reply (RPY). Replies are urgent when the request was, as in LiteCore's MessageBuilder. */
  respond(reply: OutgoingMessage = {}): void {
    this.#send(MessageType.response, reply.properties, reply.body, reply);
  }

  /** Sends an error reply (ERR) with `Error-Domain`, `Error-Code` and the message as body. */
  respondWithError(error: ErrorReply): void {
    const info: BlipErrorInfo = { domain: error.domain ?? BLIP_ERROR_DOMAIN, code: error.code, message: error.message ?? '' };
    this.#send(MessageType.error, errorProperties(info, error.properties), info.message, {});
  }

  #send(type: number, properties: PropertiesInit | undefined, body: Uint8Array | string | undefined, options: OutgoingMessage): void {
    if (this.noReply) return;
    if (this.#responded) throw new BlipError('invalid-message', `request #${this.number} was already answered`);
    const payload = encodeMessagePayload(properties, body);
    this.#responded = true;
    let flags = type;
    if (options.urgent ?? this.urgent) flags |= FrameFlag.urgent;
    if (options.compressed === true && this.#allowCompression) flags |= FrameFlag.compressed;
    this.#responder(new MessageOut(flags, this.number, payload));
  }
}
