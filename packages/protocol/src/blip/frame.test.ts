import { crc32, constants as zc, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputCodec, OutputCodec } from './codec.ts';
import { FrameFlag, MessageType } from './constants.ts';
import { decodeFrame, encodeFrame } from './frame.ts';
import { encodeMessagePayload } from './message.ts';

/**
 * Byte vectors worked out by hand from `BLIPProtocol.hh` (flag values) and `docs/BLIP Protocol.md`
 * (layout), with CRC32s computed by a separate implementation (Python's binascii.crc32).
 */
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// MSG #1, flags 0, properties {Profile: "getCheckpoint", client: "x"}, empty body.
// Properties: "Profile\0getCheckpoint\0client\0x\0" = 31 bytes, so the payload starts with varint 0x1f.
const MSG1_PAYLOAD = '1f 50726f66696c6500 676574436865636b706f696e7400 636c69656e7400 7800';
const MSG1_FRAME = `01 00 ${MSG1_PAYLOAD} 9f696a5e`;
// MSG #2 in the same direction: properties {Profile: "x"}, body "hi"; its CRC runs on from MSG #1's.
const MSG2_PAYLOAD = '0a 50726f66696c6500 7800 6869';
const MSG2_FRAME = `02 00 ${MSG2_PAYLOAD} 66f141f0`;
// RPY #1 (flags = type 1), no properties, body {"x":1}: the first frame of the other direction.
const RPY1_FRAME = '01 01 00 7b2278223a317d c3a5594b';
// ACKMSG for #1 after 50,000 bytes: flags = 4 | Urgent 0x10 | NoReply 0x20; varint 50000; no checksum.
const ACK_FRAME = '01 34 d08603';

// Two compressed MSGs sharing one deflate stream; both carry payload 00 "abcd" (no properties).
// Frame 1: a stored block (00, LEN 0005, NLEN fffa, 5 bytes), then the sync flush's empty stored block
// header (one 00 byte) with its 00 00 ff ff removed.
const Z1_BODY = '00 0500 faff 0061626364 00';
// Frame 2: a fixed-Huffman block holding one match, length 5 (code 259 = 0000011) at distance 5 (code 4 =
// 00100, one extra bit 0), then end-of-block (0000000) and the empty stored block header. Packed least
// significant bit first: 0 10 | 0000011 | 00100 | 0 | 0000000 | 000 -> 02 13 00 00.
const Z2_BODY = '02 13 00 00';
const Z_PAYLOAD = '0061626364';
const Z1_FRAME = `01 08 ${Z1_BODY} 0ae4e510`;
const Z2_FRAME = `02 08 ${Z2_BODY} dfa1536e`;

describe('CRC32', () => {
  it('matches the standard check value before it is trusted for vectors', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32(Buffer.from('6789'), crc32('12345'))).toBe(0xcbf43926);
  });
});

describe('frame vectors', () => {
  it('decodes a small uncompressed MSG frame', () => {
    const frame = decodeFrame(hex(MSG1_FRAME));
    expect(frame.number).toBe(1);
    expect(frame.type).toBe(MessageType.request);
    expect(frame.flags).toBe(0);
    expect(toHex(frame.body)).toBe(hex(MSG1_PAYLOAD).toString('hex'));
    expect(frame.checksum).toBe(0x9f696a5e);
  });

  it('is what the encoder writes for that message, and the running CRC carries into the next frame', () => {
    const codec = new OutputCodec();
    const p1 = encodeMessagePayload({ Profile: 'getCheckpoint', client: 'x' }, undefined);
    expect(toHex(codec.encode(1, 0, p1, false))).toBe(hex(MSG1_FRAME).toString('hex'));
    const p2 = encodeMessagePayload([['Profile', 'x']], 'hi');
    expect(toHex(codec.encode(2, 0, p2, false))).toBe(hex(MSG2_FRAME).toString('hex'));
  });

  it('checks the running CRC when decoding the same frames', () => {
    const codec = new InputCodec();
    for (const f of [MSG1_FRAME, MSG2_FRAME]) {
      const frame = decodeFrame(hex(f));
      codec.decode(frame.body, false, frame.checksum!, 1 << 20);
    }
    expect(codec.checksum).toBe(0x66f141f0);
    // Out of order, MSG #2's checksum no longer matches.
    const fresh = new InputCodec();
    const second = decodeFrame(hex(MSG2_FRAME));
    expect(() => fresh.decode(second.body, false, second.checksum!, 1 << 20)).toThrowError(/checksum/);
  });

  it('decodes a RPY frame', () => {
    const frame = decodeFrame(hex(RPY1_FRAME));
    expect(frame.type).toBe(MessageType.response);
    expect(frame.number).toBe(1);
    const data = new InputCodec().decode(frame.body, false, frame.checksum!, 100);
    expect(Buffer.from(data).toString('latin1')).toBe('\0{"x":1}');
  });

  it('decodes and encodes an ACK frame, which has no checksum', () => {
    const frame = decodeFrame(hex(ACK_FRAME));
    expect(frame.type).toBe(MessageType.ackRequest);
    expect(frame.flags).toBe(MessageType.ackRequest | FrameFlag.urgent | FrameFlag.noReply);
    expect(frame.checksum).toBeUndefined();
    expect(toHex(frame.body)).toBe('d08603');
    expect(toHex(encodeFrame(1, 0x34, hex('d08603')))).toBe(hex(ACK_FRAME).toString('hex'));
  });

  it('decodes a compressed frame pair whose second frame refers back into the first', () => {
    // The hand-made deflate data is valid for zlib itself.
    const both = Buffer.concat([hex(Z1_BODY), hex('0000ffff'), hex(Z2_BODY), hex('0000ffff')]);
    expect(inflateRawSync(both, { finishFlush: zc.Z_SYNC_FLUSH }).toString('hex')).toBe(Z_PAYLOAD + Z_PAYLOAD);

    const codec = new InputCodec();
    const f1 = decodeFrame(hex(Z1_FRAME));
    const f2 = decodeFrame(hex(Z2_FRAME));
    expect(f1.flags & FrameFlag.compressed).toBe(FrameFlag.compressed);
    expect(toHex(codec.decode(f1.body, true, f1.checksum!, 100))).toBe(Z_PAYLOAD);
    expect(toHex(codec.decode(f2.body, true, f2.checksum!, 100))).toBe(Z_PAYLOAD);

    // Without the first frame's history the second cannot be decoded.
    expect(() => new InputCodec().decode(f2.body, true, f2.checksum!, 100)).toThrowError(/too far back/);
  });

  it('compresses as a continuation of the stream: a repeat costs a few bytes, and zlib reads it', () => {
    const codec = new OutputCodec();
    const payload = hex(Z_PAYLOAD + '20'.repeat(50) + 'abcdef'.repeat(20));
    const first = codec.encode(1, FrameFlag.compressed, payload, true);
    const second = codec.encode(2, FrameFlag.compressed, payload, true);
    expect(second.length).toBeLessThanOrEqual(12);
    expect(second.length).toBeLessThan(first.length);
    const bodies = [first, second].map((f) => decodeFrame(f).body);
    const stream = Buffer.concat(bodies.flatMap((b) => [b, hex('0000ffff')]));
    expect(inflateRawSync(stream, { finishFlush: zc.Z_SYNC_FLUSH }).equals(Buffer.concat([payload, payload]))).toBe(true);
    // The checksum is over the uncompressed data, appended after the compressed body.
    expect(decodeFrame(second).checksum).toBe(crc32(payload, crc32(payload)));
  });

  it('rejects frames too short for a header or a checksum', () => {
    expect(() => decodeFrame(new Uint8Array(0))).toThrowError(/empty frame/);
    expect(() => decodeFrame(hex('80'))).toThrowError(/truncated/);
    expect(() => decodeFrame(hex('01'))).toThrowError(/truncated/);
    expect(() => decodeFrame(hex('0100 aabbcc'))).toThrowError(/before its checksum/);
    expect(decodeFrame(hex('0104')).body.length).toBe(0);
  });

  it('ignores flag bits it does not know, as the spec requires', () => {
    const frame = decodeFrame(hex('01 8001 00 00000000'));
    expect(frame.flags).toBe(0);
    expect(frame.type).toBe(MessageType.request);
  });
});
