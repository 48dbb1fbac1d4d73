import { describe, expect, it } from 'vitest';
import { OutputCodec } from './codec.ts';
import { FrameFlag, MAX_UNACKED_BYTES, MessageType } from './constants.ts';
import { decodeFrame } from './frame.ts';
import { MessageOut, Outbox } from './outbox.ts';

const normal = (n: number, sent = 0): MessageOut => withSent(new MessageOut(MessageType.request, n, new Uint8Array(10)), sent);
const urgent = (n: number, sent = 0): MessageOut =>
  withSent(new MessageOut(MessageType.request | FrameFlag.urgent, n, new Uint8Array(10)), sent);
function withSent(msg: MessageOut, sent: number): MessageOut {
  msg.bytesSent = sent;
  return msg;
}
const order = (box: Outbox): string => box.toArray().map((m) => `${m.urgent ? 'U' : 'N'}${m.number}`).join(' ');

describe('Outbox', () => {
  it('queues normal messages round robin', () => {
    const box = new Outbox();
    [1, 2, 3].forEach((n) => box.push(normal(n, 1)));
    const first = box.pop()!;
    box.push(first);
    expect(order(box)).toBe('N2 N3 N1');
  });

  it('puts an urgent message after the first normal one when no urgent message is queued', () => {
    const box = new Outbox();
    [1, 2, 3].forEach((n) => box.push(normal(n, 100)));
    box.push(urgent(4));
    expect(order(box)).toBe('N1 U4 N2 N3');
  });

  it('leaves one normal message between urgent ones so normal ones are not starved', () => {
    const box = new Outbox();
    [1, 2, 3].forEach((n) => box.push(normal(n, 100)));
    box.push(urgent(4));
    box.push(urgent(5));
    expect(order(box)).toBe('N1 U4 N2 U5 N3');
  });

  it('never lets a new urgent message begin before an older message that has not begun', () => {
    const box = new Outbox();
    box.push(normal(1, 100));
    box.push(normal(2));
    box.push(normal(3));
    box.push(urgent(4));
    expect(order(box)).toBe('N1 N2 N3 U4');
  });

  it('lets an urgent message that already began move ahead of unsent ones', () => {
    const box = new Outbox();
    box.push(normal(1));
    box.push(normal(2));
    box.push(urgent(3, 100));
    expect(order(box)).toBe('N1 U3 N2');
  });

  it('appends when the queue holds at most one message', () => {
    const box = new Outbox();
    box.push(normal(1, 1));
    box.push(urgent(2, 1));
    expect(order(box)).toBe('N1 U2');
  });
});

describe('MessageOut', () => {
  it('splits a payload into frames no larger than asked, counting transmitted bytes', () => {
    const msg = new MessageOut(MessageType.request, 7, new Uint8Array(10_000).fill(1));
    const codec = new OutputCodec();
    const sizes: number[] = [];
    let more = true;
    while (more) {
      const built = msg.nextFrame(codec, 4096);
      more = built.more;
      sizes.push(built.frame.length);
      const frame = decodeFrame(built.frame);
      expect(frame.number).toBe(7);
      expect((frame.flags & FrameFlag.moreComing) !== 0).toBe(more);
    }
    expect(sizes).toEqual([4096, 4096, 10_000 - 2 * 4090 + 6]);
    expect(msg.bytesSent).toBe(10_000 + 3 * 4);
  });

  it('asks for an ACK at 128,000 unacknowledged bytes and applies ACKs', () => {
    const msg = new MessageOut(MessageType.request, 1, new Uint8Array(1_000_000));
    const codec = new OutputCodec();
    while (!msg.needsAck) msg.nextFrame(codec, 16384);
    expect(msg.unackedBytes).toBeGreaterThanOrEqual(MAX_UNACKED_BYTES);
    expect(msg.unackedBytes).toBeLessThan(MAX_UNACKED_BYTES + 16384);
    msg.receivedAck(50_000);
    expect(msg.unackedBytes).toBe(msg.bytesSent - 50_000);
    expect(msg.needsAck).toBe(false);
    msg.receivedAck(10); // an older ACK never raises the count
    expect(msg.unackedBytes).toBe(msg.bytesSent - 50_000);
    msg.receivedAck(msg.bytesSent + 1000); // more than was sent (go-blip counts inflated bytes)
    expect(msg.unackedBytes).toBe(0);
  });

  it('keeps compressed frames within the size even for incompressible data', () => {
    const data = new Uint8Array(50_000).map((_, i) => (i * 2654435761) >>> 24);
    const msg = new MessageOut(MessageType.request | FrameFlag.compressed, 1, data);
    const codec = new OutputCodec();
    let more = true;
    while (more) {
      const built = msg.nextFrame(codec, 4096);
      expect(built.frame.length).toBeLessThanOrEqual(4096);
      more = built.more;
    }
  });
});
