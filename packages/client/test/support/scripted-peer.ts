/**
 * A scripted Sync Gateway-like peer for replicator tests, over an in-memory wire (no network): two
 * BlipConnections whose frames are delivered on the next macrotask. The peer records every request the
 * client sends, answers checkpoints, serves a scripted changes feed with `rev` messages as Sync Gateway
 * shapes them, and answers `proposeChanges`/`rev` on push through overridable hooks.
 */
import { BlipConnection, type BlipCloseEvent, type IncomingMessage, type IncomingRequest } from '@syncline/protocol';
import { createHash } from 'node:crypto';
import type { Connector, Session } from '../../src/transport/connector.ts';

export interface FeedRevision {
  seq: number | string;
  id: string;
  rev: string;
  /** `changes` flags: 1 deleted, 2 revoked, 4 removed. */
  flags?: number;
  history?: string[];
  body?: Record<string, unknown>;
}

export interface RecordedRequest {
  profile: string;
  properties: Record<string, string>;
  body: string;
}

export const digestOf = (data: Uint8Array): string => `sha1-${createHash('sha1').update(data).digest('base64')}`;

export class ScriptedPeer {
  readonly requests: RecordedRequest[] = [];
  /** Replies the client gave to the peer's `changes` messages, parsed. */
  readonly changesReplies: { properties: Record<string, string>; body: unknown }[] = [];
  /** Replies to the peer's `rev` messages (undefined when OK, else the error code). */
  readonly revReplies: (number | undefined)[] = [];
  readonly checkpoints = new Map<string, { rev: string; body: string }>();
  readonly blobs = new Map<string, Uint8Array>();
  /** The feed served on pull, in order. */
  feed: FeedRevision[] = [];
  /** `norev` instead of `rev` for these revision IDs. */
  norevs = new Set<string>();
  /** Status per pushed entry for `proposeChanges` (default 0). */
  proposeStatus: (entry: unknown[]) => number = () => 0;
  /** Error code to answer a pushed `rev` with (default: accept). */
  revStatus: (properties: Record<string, string>, body: Record<string, unknown>) => number | undefined = () => undefined;
  /** Blobs the peer asks the client for when a pushed revision references them. */
  fetchPushedBlobs = true;
  /** Pushed revisions accepted: properties and body. */
  readonly pushed: { properties: Record<string, string>; body: Record<string, unknown> }[] = [];
  readonly fetchedFromClient = new Map<string, Uint8Array>();
  /** Digests the client proved it holds (`proveAttachment`). */
  readonly proved: string[] = [];
  protocol = 'BLIP_3+CBMobile_3';
  connections = 0;
  #peer: BlipConnection | undefined;
  #client: BlipConnection | undefined;

  connector: Connector = (handlers) => {
    this.connections++;
    let resolveClosed!: (event: BlipCloseEvent) => void;
    const closed = new Promise<BlipCloseEvent>((resolve) => (resolveClosed = resolve));
    const deliver = (target: () => BlipConnection, frame: Uint8Array): boolean => {
      const copy = Uint8Array.from(frame);
      setImmediate(() => target().receive(copy));
      return true;
    };
    const client: BlipConnection = new BlipConnection({
      send: (frame) => deliver(() => peer, frame),
      onRequest: (rq) => handlers.onRequest(rq),
      onClose: resolveClosed,
      closeTransport: (code, reason) => setImmediate(() => peer.transportClosed(code, reason)),
    });
    const peer: BlipConnection = new BlipConnection({
      send: (frame) => deliver(() => client, frame),
      onRequest: (rq) => this.#handle(rq),
      closeTransport: (code, reason) => setImmediate(() => client.transportClosed(code, reason)),
    });
    this.#peer = peer;
    this.#client = client;
    const session: Session = { connection: client, protocol: this.protocol, closed };
    return Promise.resolve(session);
  };

  /** Drops the current connection as a network failure would. */
  dropConnection(): void {
    this.#peer?.transportClosed(1006, 'dropped');
    this.#client?.transportClosed(1006, 'dropped');
  }

  requestsOf(profile: string): RecordedRequest[] {
    return this.requests.filter((r) => r.profile === profile);
  }

  async #handle(rq: IncomingRequest): Promise<void> {
    const profile = rq.profile ?? '';
    this.requests.push({ profile, properties: { ...rq.properties }, body: rq.body.toString('utf8') });
    switch (profile) {
      case 'getCheckpoint': {
        const saved = this.checkpoints.get(rq.property('client') ?? '');
        if (!saved) rq.respondWithError({ domain: 'HTTP', code: 404, message: 'missing' });
        else rq.respond({ properties: { rev: saved.rev }, body: saved.body });
        return;
      }
      case 'setCheckpoint': {
        const client = rq.property('client') ?? '';
        const saved = this.checkpoints.get(client);
        if (saved?.rev !== rq.property('rev')) {
          rq.respondWithError({ domain: 'HTTP', code: 409, message: 'conflict' });
          return;
        }
        const generation = saved ? Number.parseInt(saved.rev, 10) + 1 : 1;
        const rev = `0-${generation}`;
        this.checkpoints.set(client, { rev, body: rq.body.toString('utf8') });
        rq.respond({ properties: { rev } });
        return;
      }
      case 'subChanges':
        rq.respond();
        await this.#serveFeed(rq);
        return;
      case 'getAttachment': {
        const data = this.blobs.get(rq.property('digest') ?? '');
        if (!data) rq.respondWithError({ domain: 'HTTP', code: 404, message: 'missing' });
        else rq.respond({ body: data });
        return;
      }
      case 'proposeChanges': {
        const entries = JSON.parse(rq.body.toString('utf8')) as unknown[][];
        const statuses = entries.map((e) => this.proposeStatus(e));
        while (statuses.length > 0 && statuses[statuses.length - 1] === 0) statuses.pop();
        rq.respond({ body: JSON.stringify(statuses) });
        return;
      }
      case 'rev':
        await this.#receiveRev(rq);
        return;
      default:
        rq.respondWithError({ code: 404, message: 'no handler' });
    }
  }

  async #serveFeed(sub: IncomingRequest): Promise<void> {
    const peer = this.#peer!;
    const batch = Number(sub.property('batch') ?? 200);
    const since = sub.property('since');
    let start = 0;
    if (since !== undefined) {
      const index = this.feed.findIndex((f) => JSON.stringify(f.seq) === since);
      start = index + 1;
    }
    for (let i = start; i < this.feed.length; i += batch) {
      const slice = this.feed.slice(i, i + batch);
      const rows = slice.map((f) => (f.flags ? [f.seq, f.id, f.rev, f.flags] : [f.seq, f.id, f.rev]));
      const reply = await peer.sendRequest({ profile: 'changes', body: JSON.stringify(rows) });
      this.changesReplies.push({ properties: { ...reply.properties }, body: reply.body.length > 0 ? reply.bodyJSON() : null });
      const answers = (reply.body.length > 0 ? reply.bodyJSON() : []) as unknown[];
      await Promise.all(slice.map((f, j) => (Array.isArray(answers[j]) ? this.#sendRev(peer, f) : undefined)));
    }
    await peer.sendRequest({ profile: 'changes', body: '[]' });
  }

  async #sendRev(peer: BlipConnection, f: FeedRevision): Promise<void> {
    const sequence = JSON.stringify(f.seq);
    if (this.norevs.has(f.rev)) {
      peer.sendNoReply({ profile: 'norev', properties: { id: f.id, rev: f.rev, sequence, error: '404', reason: 'missing' } });
      return;
    }
    const properties: Record<string, string> = { id: f.id, rev: f.rev, sequence };
    if (f.history && f.history.length > 0) properties.history = f.history.join(',');
    if (f.flags !== undefined && (f.flags & 1) !== 0) properties.deleted = '1';
    const reply: IncomingMessage = await peer.sendRequest({ profile: 'rev', properties, body: JSON.stringify(f.body ?? {}), compressed: true });
    this.revReplies.push(reply.error?.code);
  }

  async #receiveRev(rq: IncomingRequest): Promise<void> {
    const properties = { ...rq.properties };
    const body = JSON.parse(rq.body.toString('utf8')) as Record<string, unknown>;
    const status = this.revStatus(properties, body);
    if (status !== undefined) {
      rq.respondWithError({ domain: 'HTTP', code: status, message: status === 403 ? 'forbidden' : 'refused' });
      return;
    }
    if (this.fetchPushedBlobs) {
      const atts = (body._attachments ?? {}) as Record<string, { digest: string }>;
      for (const att of Object.values(atts)) {
        const held = this.blobs.get(att.digest);
        if (held) {
          const nonce = Buffer.from('0123456789abcdefghij');
          const proof = await this.#peer!.sendRequest({ profile: 'proveAttachment', properties: { digest: att.digest }, body: nonce });
          const expected = `sha1-${createHash('sha1').update(Uint8Array.of(nonce.length)).update(nonce).update(held).digest('base64')}`;
          if (proof.error || proof.body.toString('utf8') !== expected) {
            rq.respondWithError({ domain: 'HTTP', code: 403, message: 'Incorrect proof' });
            return;
          }
          this.proved.push(att.digest);
          continue;
        }
        const reply = await this.#peer!.sendRequest({ profile: 'getAttachment', properties: { digest: att.digest, docID: properties.id ?? '' } });
        if (reply.error) {
          rq.respondWithError({ domain: 'HTTP', code: 400, message: 'attachment unavailable' });
          return;
        }
        this.fetchedFromClient.set(att.digest, Uint8Array.from(reply.body));
      }
    }
    this.pushed.push({ properties, body });
    rq.respond();
  }
}
