/**
 * A scripted Couchbase Lite-like BLIP client for tests (in the manner of Sync Gateway's BlipTesterClient): a
 * `ws` WebSocket carrying a BlipConnection, which records the `changes`, `rev` and `norev` messages the
 * server sends and answers `changes` the way LiteCore's RevFinder does (by default: every revision wanted,
 * no known ancestors; revocation/removal entries are not requested).
 */
import { basicAuth } from './rest.ts';
import { BlipConnection, type IncomingMessage, type IncomingRequest, type OutgoingRequest } from '@syncline/protocol';
import { createHash } from 'node:crypto';
import WebSocket from 'ws';

export interface ConnectOptions {
  /** Basic credentials. */
  auth?: { username: string; password: string };
  /** Offered subprotocols, newest first. */
  protocols?: string[];
  headers?: Record<string, string>;
}

export interface ChangesMessage {
  entries: unknown[][];
  properties: Record<string, string>;
}

export interface RevMessage {
  properties: Record<string, string>;
  body: Record<string, unknown>;
  /** Whether the message came in compressed frames. */
  compressed: boolean;
}

/** How the client answers one `changes` entry: the known ancestors (wanted) or 0 (not wanted). */
export type ChangesAnswerer = (entry: unknown[]) => string[] | 0;

export const wantAll: ChangesAnswerer = (entry) => {
  const flags = entry[3];
  return typeof flags === 'number' && flags > 1 && flags !== 5 ? 0 : [];
};

export const CBMOBILE_3 = 'BLIP_3+CBMobile_3';
export const CBMOBILE_2 = 'BLIP_3+CBMobile_2';

export function blipUrl(httpUrl: string, db: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/${db}/_blipsync`;
}

/** The HTTP response to an upgrade that the server refused. */
export interface Refusal {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function wsOptions(opts: ConnectOptions): WebSocket.ClientOptions {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth) Object.assign(headers, basicAuth(opts.auth.username, opts.auth.password));
  return { headers, perMessageDeflate: false };
}

/** Attempts the upgrade; resolves with the open socket or the refusal. */
export function openSocket(url: string, opts: ConnectOptions = {}): Promise<{ ws: WebSocket } | { refused: Refusal }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [CBMOBILE_3, CBMOBILE_2], wsOptions(opts));
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ refused: { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') } }));
      res.on('error', reject);
    });
    ws.once('error', reject);
  });
}

export class BlipTestClient {
  readonly ws: WebSocket;
  readonly connection: BlipConnection;
  readonly changes: ChangesMessage[] = [];
  readonly revs: RevMessage[] = [];
  readonly norevs: Record<string, string>[] = [];
  /** Empty `changes` messages received (the server's "caught up"). */
  caughtUp = 0;
  answer: ChangesAnswerer = wantAll;
  /** Properties of the client's answers to `changes` (LiteCore sends maxHistory 20 and blobs). */
  answerProperties: Record<string, string> = { maxHistory: '20', blobs: 'true' };
  closed: { code: number; reason: string } | undefined;
  /** Attachment bodies by digest, served to the server's `getAttachment` and `proveAttachment` requests. */
  readonly blobs = new Map<string, Buffer>();
  /** Properties of the `getAttachment` / `proveAttachment` requests the server sent. */
  readonly attachmentRequests: { profile: string; properties: Record<string, string> }[] = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    this.connection = new BlipConnection({
      send: (frame) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: true });
      },
      closeTransport: (code, reason) => ws.close(code, reason),
      onRequest: (rq) => this.#onRequest(rq),
    });
    ws.on('message', (data: Buffer) => this.connection.receive(data));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.connection.transportClosed(code, reason.toString());
    });
    ws.on('error', () => undefined);
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  request(request: OutgoingRequest): Promise<IncomingMessage> {
    return this.connection.sendRequest(request);
  }

  #onRequest(rq: IncomingRequest): void {
    switch (rq.profile) {
      case 'changes': {
        const entries = (rq.bodyJSON() ?? []) as unknown[][];
        this.changes.push({ entries, properties: { ...rq.properties } });
        if (entries.length === 0) {
          this.caughtUp++;
          if (!rq.noReply) rq.respond();
          return;
        }
        const answers = entries.map((e) => this.answer(e));
        while (answers.length > 0 && answers[answers.length - 1] === 0) answers.pop();
        rq.respond({ properties: this.answerProperties, body: JSON.stringify(answers) });
        return;
      }
      case 'rev':
        this.revs.push({ properties: { ...rq.properties }, body: rq.bodyJSON() as Record<string, unknown>, compressed: rq.compressed });
        if (!rq.noReply) rq.respond();
        return;
      case 'norev':
        this.norevs.push({ ...rq.properties });
        if (!rq.noReply) rq.respond();
        return;
      case 'getAttachment':
      case 'proveAttachment': {
        this.attachmentRequests.push({ profile: rq.profile, properties: { ...rq.properties } });
        const data = this.blobs.get(rq.properties.digest ?? '');
        if (!data) {
          rq.respondWithError({ domain: 'HTTP', code: 404, message: 'missing' });
          return;
        }
        if (rq.profile === 'getAttachment') {
          rq.respond({ body: data });
          return;
        }
        const nonce = rq.body;
        const proof = createHash('sha1').update(Uint8Array.of(nonce.length)).update(nonce).update(data).digest('base64');
        rq.respond({ body: `sha1-${proof}` });
        return;
      }
      case undefined:
      default:
        rq.respondWithError({ code: 404, message: 'no handler' });
    }
  }

  /** Revisions received for a document id. */
  revsOf(id: string): RevMessage[] {
    return this.revs.filter((r) => r.properties.id === id);
  }

  /** Every non-empty `changes` entry received, in order. */
  get entries(): unknown[][] {
    return this.changes.flatMap((c) => c.entries);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }
}

export async function connectBlip(httpUrl: string, db: string, opts: ConnectOptions = {}): Promise<BlipTestClient> {
  const result = await openSocket(blipUrl(httpUrl, db), opts);
  if ('refused' in result) throw new Error(`upgrade refused: ${result.refused.status} ${result.refused.body}`);
  return new BlipTestClient(result.ws);
}

/** Polls `check` until it returns true or the deadline passes. */
export async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
