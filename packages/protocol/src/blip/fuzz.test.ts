import { randomBytes } from 'node:crypto';
import { constants as zc, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OutputCodec } from './codec.ts';
import { BlipConnection } from './connection.ts';
import type { BlipCloseEvent, BlipConnectionOptions } from './connection-options.ts';
import { FrameFlag, MessageType } from './constants.ts';
import { BlipError } from './errors.ts';
import { encodeFrame } from './frame.ts';
import { LoopbackPair } from './loopback.ts';
import { encodeMessagePayload } from './message.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

interface Probe {
  conn: BlipConnection;
  closes: BlipCloseEvent[];
  requests: number;
  maxPending: number;
  feed(frame: Uint8Array): void;
}

/** A connection fed by hand; records closes, requests and the most bytes it ever held for incomplete messages. */
function probe(options: Partial<BlipConnectionOptions> = {}): Probe {
  const p: Probe = {
    conn: undefined as unknown as BlipConnection,
    closes: [],
    requests: 0,
    maxPending: 0,
    feed(frame) {
      expect(() => p.conn.receive(frame)).not.toThrow();
      p.maxPending = Math.max(p.maxPending, p.conn.stats.pendingIncomingBytes);
    },
  };
  p.conn = new BlipConnection({
    send: () => true,
    schedule: () => undefined,
    onRequest: (req) => {
      p.requests++;
      req.respond();
    },
    onClose: (e) => p.closes.push(e),
    ...options,
  });
  return p;
}

/** The failure a probe closed with, checking it closed exactly once with a BlipError. */
function failure(p: Probe): BlipError {
  expect(p.conn.isOpen).toBe(false);
  expect(p.closes).toHaveLength(1);
  expect(p.closes[0]!.error).toBeInstanceOf(BlipError);
  return p.closes[0]!.error!;
}

/** Builds well-formed frames as a peer would, sharing one output codec. */
class Peer {
  readonly codec = new OutputCodec();
  frame(number: number, flags: number, data: Uint8Array): Uint8Array {
    return this.codec.encode(number, flags, data, (flags & FrameFlag.compressed) !== 0);
  }
}

/** Frames A sends in a realistic exchange: small and big, compressed and not, with ACKs. */
async function recordedTraffic(): Promise<Uint8Array[]> {
  const pair = new LoopbackPair({ b: { onRequest: (req) => req.respond({ body: req.body }) } });
  const replies = [
    pair.a.sendRequest({ profile: 'getCheckpoint', properties: { client: 'x' } }),
    pair.a.sendRequest({ profile: 'rev', body: JSON.stringify({ a: 'b'.repeat(500) }), compressed: true }),
    pair.a.sendRequest({ profile: 'big', body: randomBytes(150_000) }),
    pair.a.sendRequest({ profile: 'bigz', body: Buffer.from('0123456789'.repeat(20_000)), compressed: true }),
  ];
  await pair.settle();
  await Promise.all(replies);
  return pair.sentByA;
}

describe('BLIP fuzzing', () => {
  it('survives random frames: never throws, closes with a BlipError at most once', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 20 }), (frames) => {
        const p = probe({ maxPendingBytes: 10_000 });
        for (const f of frames) p.feed(f);
        expect(p.closes.length).toBeLessThanOrEqual(1);
        if (!p.conn.isOpen) expect(p.closes[0]!.error).toBeInstanceOf(BlipError);
        expect(p.maxPending).toBeLessThanOrEqual(10_000);
      }),
      { numRuns: 1500 },
    );
  });

  it('survives random frames that start with a plausible header', () => {
    const header = fc.constantFrom('0100', '0140', '0108', '0148', '0101', '0104', '0105', '0160', '0200', '0300');
    fc.assert(
      fc.property(fc.array(fc.tuple(header, fc.uint8Array({ maxLength: 200 })), { minLength: 1, maxLength: 10 }), (frames) => {
        const p = probe({ maxPendingBytes: 10_000 });
        for (const [h, rest] of frames) p.feed(Buffer.concat([hex(h), rest]));
        if (!p.conn.isOpen) failure(p);
      }),
      { numRuns: 1500 },
    );
  });

  it('survives a real frame stream that is truncated, corrupted, reordered or cut short', async () => {
    const traffic = await recordedTraffic();
    // Unchanged, the stream is accepted whole.
    const clean = probe();
    traffic.forEach((f) => clean.feed(f));
    expect(clean.conn.isOpen).toBe(true);
    expect(clean.requests).toBe(4);

    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip'), frame: fc.nat(), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('truncate'), frame: fc.nat(), at: fc.nat(), bit: fc.constant(0) }),
      fc.record({ kind: fc.constant('drop'), frame: fc.nat(), at: fc.constant(0), bit: fc.constant(0) }),
      fc.record({ kind: fc.constant('swap'), frame: fc.nat(), at: fc.constant(0), bit: fc.constant(0) }),
    );
    fc.assert(
      fc.property(mutation, ({ kind, frame, at, bit }) => {
        const frames = traffic.map((f) => Uint8Array.from(f));
        const i = frame % frames.length;
        const target = frames[i]!;
        if (kind === 'flip') target[at % target.length]! ^= 1 << bit;
        if (kind === 'truncate') frames[i] = target.subarray(0, at % target.length);
        if (kind === 'drop') frames.splice(i, 1);
        if (kind === 'swap' && i + 1 < frames.length) [frames[i], frames[i + 1]] = [frames[i + 1]!, frames[i]!];
        const p = probe({ maxPendingBytes: 1_000_000 });
        frames.forEach((f) => p.feed(f));
        if (!p.conn.isOpen) failure(p);
        expect(p.maxPending).toBeLessThanOrEqual(1_000_000);
      }),
      { numRuns: 500 },
    );
  });

  it('closes with bad-checksum (1002) when a checksum is wrong', () => {
    const peer = new Peer();
    const good = peer.frame(1, 0, encodeMessagePayload({ Profile: 'x' }, 'hello'));
    good[good.length - 1]! ^= 0xff;
    const p = probe();
    p.feed(good);
    expect(failure(p).code).toBe('bad-checksum');
    expect(p.closes[0]!.code).toBe(1002);
    expect(p.requests).toBe(0);
  });

  it('closes with bad-deflate when compressed data is corrupt', () => {
    const p = probe();
    p.feed(encodeFrame(1, FrameFlag.compressed, hex('07 ffff'), 0));
    expect(failure(p).code).toBe('bad-deflate');
  });

  it('closes with bad-varint on absurd header varints', () => {
    for (const frame of ['ffffffffffffffffffff01 00', '8080808080808010 00 00000000', '01 ffffffffffffffffff7f']) {
      const p = probe();
      p.feed(hex(frame));
      expect(failure(p).code).toBe('bad-varint');
    }
  });

  it('closes on an absurd properties length without allocating it', () => {
    const peer = new Peer();
    const p = probe();
    p.feed(peer.frame(1, FrameFlag.moreComing, hex('ffffffff0f')));
    expect(failure(p).code).toBe('bad-properties');
  });

  it('closes on an unknown message type, and on a reply to a request never sent', () => {
    const peer = new Peer();
    const p = probe();
    p.feed(peer.frame(1, 3, hex('00')));
    expect(failure(p).message).toMatch(/unknown message type/);
    const q = probe();
    q.feed(new Peer().frame(1, MessageType.response, hex('00')));
    expect(failure(q).message).toMatch(/answers no request/);
  });

  it('ignores an ACK for an unknown message or with an unreadable count', () => {
    const p = probe();
    p.feed(hex('05 34 d08603'));
    p.feed(hex('01 35 ff'));
    expect(p.conn.isOpen).toBe(true);
  });

  it('caps the bytes held for incomplete incoming messages', () => {
    const cap = 200_000;
    const peer = new Peer();
    const p = probe({ maxPendingBytes: cap });
    const chunk = randomBytes(16_000);
    let number = 1;
    for (let i = 0; i < 100 && p.conn.isOpen; i++) {
      // Open a new request every third frame and keep all of them incomplete.
      if (i % 3 === 0) p.feed(peer.frame(number++, FrameFlag.moreComing, Buffer.concat([hex('00'), chunk])));
      else p.feed(peer.frame(1 + (i % (number - 1)), FrameFlag.moreComing, chunk));
    }
    expect(failure(p).code).toBe('limit-exceeded');
    expect(p.closes[0]!.code).toBe(1009);
    expect(p.maxPending).toBeLessThanOrEqual(cap);
    expect(p.conn.stats.pendingIncomingBytes).toBe(0);
  });

  it('caps the number of incoming requests in progress', () => {
    const peer = new Peer();
    const p = probe({ maxPendingRequests: 50 });
    for (let n = 1; n <= 60 && p.conn.isOpen; n++) p.feed(peer.frame(n, FrameFlag.moreComing, hex('00')));
    expect(failure(p).message).toMatch(/more than 50 incoming requests/);
  });

  it('refuses a compressed frame that inflates past the message limit', () => {
    const bomb = deflateRawSync(Buffer.concat([hex('00'), Buffer.alloc(20_000_000)]), { finishFlush: zc.Z_SYNC_FLUSH });
    const body = bomb.subarray(0, -4);
    expect(body.length).toBeLessThan(30_000);
    const p = probe({ maxMessageBytes: 1_000_000, maxPendingBytes: 2_000_000 });
    p.feed(encodeFrame(1, FrameFlag.compressed, body, 0));
    expect(failure(p).code).toBe('limit-exceeded');
  });

  it('refuses frames and messages above the configured sizes', () => {
    const p = probe({ maxFrameBytes: 1000 });
    p.feed(new Uint8Array(1001));
    expect(failure(p).code).toBe('limit-exceeded');
    const peer = new Peer();
    const q = probe({ maxMessageBytes: 100 });
    q.feed(peer.frame(1, FrameFlag.moreComing, Buffer.concat([hex('00'), Buffer.alloc(60)])));
    q.feed(peer.frame(1, 0, Buffer.alloc(60)));
    expect(failure(q).code).toBe('limit-exceeded');
  });

  it('keeps the codec in step when dropping a reply nobody waits for', () => {
    const sent: Uint8Array[] = [];
    const p = probe({ send: (f) => void sent.push(f), schedule: (task) => task() });
    p.conn.sendNoReply({ profile: 'fire and forget' });
    const peer = new Peer();
    p.feed(peer.frame(1, MessageType.response | FrameFlag.compressed, encodeMessagePayload({ x: 'y' }, 'unexpected reply')));
    p.feed(peer.frame(1, FrameFlag.compressed, encodeMessagePayload({ Profile: 'next' }, 'unexpected reply')));
    expect(p.conn.isOpen).toBe(true);
    expect(p.requests).toBe(1);
  });
});
