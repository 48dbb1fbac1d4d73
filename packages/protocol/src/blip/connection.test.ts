import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlipConnection } from './connection.ts';
import type { BlipCloseEvent } from './connection-options.ts';
import { BIG_FRAME_SIZE, DEFAULT_FRAME_SIZE, FrameFlag, INCOMING_ACK_THRESHOLD, MAX_UNACKED_BYTES, MessageType } from './constants.ts';
import { BlipError } from './errors.ts';
import { decodeFrame } from './frame.ts';
import type { Frame } from './frame.ts';
import type { IncomingRequest } from './incoming-request.ts';
import { LoopbackPair } from './loopback.ts';
import type { IncomingMessage } from './message.ts';

const frames = (list: Uint8Array[]): Frame[] => list.map((f) => decodeFrame(f));
const dataFrames = (list: Uint8Array[]): Frame[] => frames(list).filter((f) => f.type < 4);

/** Echoes each request's properties and body back, compressed like the request. */
function echo(request: IncomingRequest): void {
  request.respond({ properties: request.properties, body: request.body, compressed: request.compressed });
}

describe('BlipConnection back to back', () => {
  it('exchanges a request and its reply', async () => {
    const pair = new LoopbackPair({
      b: {
        onRequest(req) {
          expect(req.profile).toBe('getCheckpoint');
          expect(req.property('client')).toBe('x');
          req.respond({ properties: { rev: '1-a' }, body: JSON.stringify({ seq: 5 }) });
        },
      },
    });
    const reply = pair.a.sendRequest({ profile: 'getCheckpoint', properties: { client: 'x' } });
    await pair.settle();
    const msg = await reply;
    expect(msg.type).toBe(MessageType.response);
    expect(msg.error).toBeUndefined();
    expect(msg.properties).toEqual({ rev: '1-a' });
    expect(msg.bodyJSON()).toEqual({ seq: 5 });
  });

  it('frees an idle deflater and keeps the compressed stream continuous afterwards', async () => {
    const pair = new LoopbackPair({ a: { idleReleaseMs: 20 }, b: { onRequest: echo } });
    const body = (i: number): string => JSON.stringify({ i, text: 'the same words again and again '.repeat(20) });
    for (let round = 0; round < 3; round++) {
      const replies = [1, 2, 3].map((i) => pair.a.sendRequest({ profile: 'echo', body: body(round * 10 + i), compressed: true }));
      await pair.settle();
      for (const [k, reply] of replies.entries()) expect((await reply).bodyJSON()).toMatchObject({ i: round * 10 + k + 1 });
      expect(pair.a.stats.holdsDeflater).toBe(true);
      for (let wait = 0; wait < 100 && pair.a.stats.holdsDeflater; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(pair.a.stats.holdsDeflater).toBe(false);
    }
    expect(pair.a.isOpen && pair.b.isOpen).toBe(true);
  });

  it('carries error replies with domain, code and message', async () => {
    const pair = new LoopbackPair({
      b: { onRequest: (req) => req.respondWithError({ domain: 'HTTP', code: 409, message: 'conflict', properties: { x: 1 } }) },
    });
    const reply = pair.a.sendRequest({ profile: 'rev' });
    await pair.settle();
    const msg = await reply;
    expect(msg.type).toBe(MessageType.error);
    expect(msg.error).toEqual({ domain: 'HTTP', code: 409, message: 'conflict' });
    expect(msg.property('x')).toBe('1');
  });

  it('answers 404 without a handler and 501 when a handler throws or rejects', async () => {
    const seen: unknown[] = [];
    const pair = new LoopbackPair({
      b: {
        onRequest(req) {
          if (req.profile === 'throw') throw new Error('boom');
          if (req.profile === 'reject') return Promise.reject(new Error('later'));
          if (req.profile === 'late') return Promise.resolve().then(() => req.respond({ body: 'ok' }));
          return undefined;
        },
        onHandlerError: (err) => seen.push(err),
      },
    });
    const replies = ['throw', 'reject', 'late'].map((profile) => pair.a.sendRequest({ profile }));
    const noHandler = new LoopbackPair();
    const missing = noHandler.a.sendRequest({ profile: 'anything' });
    await Promise.all([pair.settle(), noHandler.settle()]);
    const [thrown, rejected, late] = await Promise.all(replies);
    expect(thrown!.error).toEqual({ domain: 'BLIP', code: 501, message: 'unexpected exception' });
    expect(rejected!.error?.code).toBe(501);
    expect(late!.bodyText()).toBe('ok');
    expect(seen.map((e) => (e as Error).message)).toEqual(['boom', 'later']);
    expect((await missing).error).toEqual({ domain: 'BLIP', code: 404, message: 'no handler for message' });
  });

  it('sends no reply to a NoReply request', async () => {
    const got: IncomingRequest[] = [];
    const pair = new LoopbackPair({
      b: {
        onRequest(req) {
          got.push(req);
          req.respond({ body: 'ignored' });
        },
      },
    });
    pair.a.sendNoReply({ profile: 'norev', body: 'x' });
    await pair.settle();
    expect(got).toHaveLength(1);
    expect(got[0]!.noReply).toBe(true);
    expect(got[0]!.responded).toBe(true);
    expect(pair.sentByB).toHaveLength(0);
    expect(decodeFrame(pair.sentByA[0]!).flags).toBe(FrameFlag.noReply);
    expect(pair.a.stats.awaitingReplies).toBe(0);
  });

  it('numbers requests from 1 in each direction; replies reuse the request number', async () => {
    const pair = new LoopbackPair({ a: { onRequest: echo }, b: { onRequest: echo } });
    const fromA = [1, 2, 3].map((i) => pair.a.sendRequest({ profile: `a${i}` }));
    const fromB = [1, 2].map((i) => pair.b.sendRequest({ profile: `b${i}` }));
    await pair.settle();
    expect((await Promise.all(fromA)).map((m) => [m.number, m.profile])).toEqual([[1, 'a1'], [2, 'a2'], [3, 'a3']]);
    expect((await Promise.all(fromB)).map((m) => [m.number, m.profile])).toEqual([[1, 'b1'], [2, 'b2']]);
    const byA = frames(pair.sentByA).map((f) => `${f.type}#${f.number}`);
    expect(byA).toEqual(['0#1', '0#2', '0#3', '1#1', '1#2']);
  });

  it('rejects a second reply to the same request', async () => {
    let second: unknown;
    const pair = new LoopbackPair({
      b: {
        onRequest(req) {
          req.respond();
          try {
            req.respond();
          } catch (err) {
            second = err;
          }
        },
      },
    });
    const reply = pair.a.sendRequest({});
    await pair.settle();
    await reply;
    expect(second).toBeInstanceOf(BlipError);
  });

  it('splits big messages into frames of at most 16 KiB and reassembles them, compressed or not', async () => {
    const pair = new LoopbackPair({ b: { onRequest: echo } });
    const random = randomBytes(700_000);
    const text = Buffer.from('{"_id":"doc","body":"abcdefghijklmnop"},'.repeat(30_000));
    const replies = [
      pair.a.sendRequest({ profile: 'random', body: random }),
      pair.a.sendRequest({ profile: 'text', body: text, compressed: true }),
      pair.a.sendRequest({ profile: 'random-z', body: random, compressed: true }),
    ];
    await pair.settle();
    const [r1, r2, r3] = await Promise.all(replies);
    expect(r1!.body.equals(random)).toBe(true);
    expect(r2!.body.equals(text)).toBe(true);
    expect(r2!.compressed).toBe(true);
    expect(r3!.body.equals(random)).toBe(true);
    for (const f of [...pair.sentByA, ...pair.sentByB]) expect(f.length).toBeLessThanOrEqual(BIG_FRAME_SIZE);
    expect(dataFrames(pair.sentByA).length).toBeGreaterThan(90);
    const compressedBytes = dataFrames(pair.sentByA)
      .filter((f) => f.number === 2)
      .reduce((a, f) => a + f.body.length, 0);
    expect(compressedBytes).toBeLessThan(text.length / 10);
  });

  it('interleaves two big messages frame by frame', async () => {
    const pair = new LoopbackPair({ b: { onRequest: echo } });
    const replies = [1, 2].map(() => pair.a.sendRequest({ body: randomBytes(100_000) }));
    await pair.settle();
    await Promise.all(replies);
    const numbers = dataFrames(pair.sentByA)
      .filter((f) => f.type === MessageType.request)
      .map((f) => f.number);
    expect(numbers.slice(0, 6)).toEqual([1, 2, 1, 2, 1, 2]);
  });

  it('gives an urgent message every other frame without starving normal ones', async () => {
    const pair = new LoopbackPair({ b: { onRequest: echo } });
    const normal = [1, 2, 3].map(() => pair.a.sendRequest({ body: randomBytes(100_000) }));
    const urgent = pair.a.sendRequest({ body: randomBytes(100_000), urgent: true });
    await pair.settle();
    await Promise.all([...normal, urgent]);
    const sent = dataFrames(pair.sentByA).filter((f) => f.type === MessageType.request);
    const afterUrgentStarts = sent.slice(sent.findIndex((f) => f.number === 4));
    const window = afterUrgentStarts.slice(0, 8).map((f) => f.number);
    expect(window.filter((n) => n === 4)).toHaveLength(4);
    expect(new Set(window.filter((n) => n !== 4)).size).toBe(3);
    // A normal frame followed by an urgent one is cut to the small frame size.
    const rawSent = pair.sentByA.filter((f) => decodeFrame(f).type === MessageType.request);
    const beforeUrgent = rawSent.filter((f, i) => decodeFrame(f).number !== 4 && decodeFrame(rawSent[i + 1] ?? f).number === 4);
    expect(beforeUrgent.length).toBeGreaterThan(2);
    for (const f of beforeUrgent) expect(f.length).toBeLessThanOrEqual(DEFAULT_FRAME_SIZE);
    expect((await urgent).urgent).toBe(true);
  });

  it('pauses a large message until the receiver acknowledges its bytes', async () => {
    const pair = new LoopbackPair({ b: { onRequest: echo } });
    const body = randomBytes(1_000_000);
    const small = pair.a.sendRequest({ profile: 'small', body: 'x' });
    const reply = pair.a.sendRequest({ profile: 'big', body });
    pair.runTasks();
    const sentBytes = (): number =>
      dataFrames(pair.sentByA)
        .filter((f) => f.number === 2)
        .reduce((a, f) => a + f.body.length + 4, 0);
    // Nothing delivered yet: A stops once 128,000 bytes are unacknowledged.
    expect(sentBytes()).toBeGreaterThanOrEqual(MAX_UNACKED_BYTES);
    expect(sentBytes()).toBeLessThan(MAX_UNACKED_BYTES + BIG_FRAME_SIZE);
    expect(pair.a.stats.pausedMessages).toBe(1);
    expect(pair.runTasks()).toBe(0);

    // B receives, acknowledges every 50,000 bytes; the ACKs un-pause A.
    pair.deliverToB();
    pair.runTasks();
    const acks = frames(pair.sentByB).filter((f) => f.type === MessageType.ackRequest);
    expect(acks.length).toBe(Math.floor(sentBytes() / INCOMING_ACK_THRESHOLD));
    expect(acks[0]!.flags).toBe(MessageType.ackRequest | FrameFlag.urgent | FrameFlag.noReply);
    const before = sentBytes();
    pair.deliverToA();
    pair.runTasks();
    expect(pair.a.stats.pausedMessages).toBe(1);
    expect(sentBytes()).toBeGreaterThan(before);

    await pair.settle();
    expect((await reply).body.equals(body)).toBe(true);
    expect((await small).bodyText()).toBe('x');
    // The reply travelled under flow control too: A sent ACKRPY frames.
    expect(frames(pair.sentByA).some((f) => f.type === MessageType.ackResponse)).toBe(true);
  });

  it('stops writing when the transport is full and resumes when it drains', async () => {
    const pair = new LoopbackPair({ b: { onRequest: echo }, maxUndelivered: 2 });
    const replies = Array.from({ length: 5 }, (_, i) => pair.a.sendRequest({ body: `m${i}` }));
    pair.runTasks();
    expect(pair.undeliveredToB).toBe(2);
    expect(pair.a.stats.queuedMessages).toBe(3);
    await pair.settle();
    expect((await Promise.all(replies)).map((m) => m.bodyText())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('round-trips random messages in both directions', async () => {
    const message = fc.record({
      props: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.includes('\0') && s !== 'Profile'), fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0')), { maxKeys: 4 }),
      body: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 300_000 }).map((n) => randomBytes(n))),
      compressed: fc.boolean(),
      urgent: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(message, { maxLength: 6 }), fc.array(message, { maxLength: 6 }), async (fromA, fromB) => {
        const pair = new LoopbackPair({ a: { onRequest: echo }, b: { onRequest: echo } });
        const send = (conn: BlipConnection, m: (typeof fromA)[number]): Promise<IncomingMessage> =>
          conn.sendRequest({ properties: m.props, body: m.body, compressed: m.compressed, urgent: m.urgent });
        const replies = [...fromA.map((m) => send(pair.a, m)), ...fromB.map((m) => send(pair.b, m))];
        await pair.settle();
        const got = await Promise.all(replies);
        [...fromA, ...fromB].forEach((m, i) => {
          expect(got[i]!.body.equals(Buffer.from(m.body))).toBe(true);
          expect({ ...got[i]!.properties }).toEqual(m.props);
        });
        expect(pair.a.isOpen && pair.b.isOpen).toBe(true);
      }),
      { numRuns: 25 },
    );
  });
});

describe('closing', () => {
  it('rejects waiting and queued requests and reports the close once on each side', async () => {
    const events: [string, BlipCloseEvent][] = [];
    const pair = new LoopbackPair({
      a: { onClose: (e) => events.push(['a', e]) },
      b: { onClose: (e) => events.push(['b', e]), onRequest: () => undefined },
    });
    const waiting = pair.a.sendRequest({ profile: 'never answered' });
    await pair.settle();
    const queued = pair.a.sendRequest({ profile: 'queued' });
    pair.a.close(1000, 'bye');
    pair.a.close();
    await expect(waiting).rejects.toMatchObject({ code: 'closed' });
    await expect(queued).rejects.toMatchObject({ code: 'closed' });
    await expect(pair.a.sendRequest({})).rejects.toBeInstanceOf(BlipError);
    expect(() => pair.a.sendNoReply({})).toThrowError(BlipError);
    await pair.settle();
    expect(events.map(([side, e]) => [side, e.code, e.reason, e.initiator])).toEqual([
      ['a', 1000, 'bye', 'local'],
      ['b', 1000, 'bye', 'remote'],
    ]);
    expect(pair.b.isOpen).toBe(false);
  });

  it('writes replies queued before an orderly close', async () => {
    let request: IncomingRequest | undefined;
    const pair = new LoopbackPair({ b: { onRequest: (req) => void (request = req) } });
    const reply = pair.a.sendRequest({ profile: 'last words' });
    await pair.settle();
    request!.respond({ body: 'goodbye' });
    pair.b.close(1000, 'done');
    pair.deliverToA();
    expect((await reply).bodyText()).toBe('goodbye');
    expect(pair.a.isOpen).toBe(false);
  });

  it('fails the connection on a request number out of sequence', () => {
    const closed: BlipCloseEvent[] = [];
    const transport: [number, string][] = [];
    const conn = new BlipConnection({
      send: () => true,
      onClose: (e) => closed.push(e),
      closeTransport: (code, reason) => transport.push([code, reason]),
    });
    conn.receive(Buffer.from('02 00 00 00000000'.replace(/ /g, ''), 'hex'));
    expect(conn.isOpen).toBe(false);
    expect(closed[0]!.error?.code).toBe('bad-frame');
    expect(closed[0]!.error?.message).toMatch(/out of sequence/);
    expect(transport).toEqual([[1002, closed[0]!.error!.message]]);
  });
});
