/**
 * Bad input over `/{db}/_blipsync`: every malformed, out-of-order, oversized or random message must get a BLIP
 * error reply or a closed connection, never a crash, and after each batch the server still serves other
 * clients (a BLIP pull and a REST read on fresh connections) and its process is alive.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BlipConnection, encodeUVarint, FrameFlag, MessageType, OutputCodec, encodeMessagePayload, type IncomingMessage, type IncomingRequest } from '@syncline/protocol';
import { basicAuth, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';
import { blipUrl, type BlipTestClient, CBMOBILE_3, connectBlip, openSocket, until } from '../support/blip-client.ts';

const ALICE = { username: 'alice', password: 'alicepass' };
const MAX_DOC = 64 * 1024;
const MAX_ATT = 64 * 1024;
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_123);

let server: TestServer;
const opened: WebSocket[] = [];

beforeAll(async () => {
  server = await startTestServer({
    databases: {
      db: {
        max_document_size: MAX_DOC,
        max_attachment_size: MAX_ATT,
        users: { alice: { password: 'alicepass', admin_channels: ['*'] } },
      },
    },
    logLevel: 'warn',
  });
  const docs = Array.from({ length: 30 }, (_, i) => ({ _id: `doc-${i}`, channels: ['a'], n: i }));
  const res = await request('POST', `${server.adminUrl}/db/_bulk_docs`, { docs });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  for (const ws of opened) ws.terminate();
  await server?.[Symbol.asyncDispose]();
});

function serverAlive(): boolean {
  return server.process.exitCode === null && server.process.signalCode === null;
}

/** Proves the server is still up: a fresh BLIP connection pulls every document, REST answers, the process lives. */
async function expectHealthy(): Promise<void> {
  expect(serverAlive()).toBe(true);
  const client = await connect();
  const reply = await client.request({ profile: 'subChanges', properties: { batch: 50 } });
  expect(reply.error).toBeUndefined();
  await until(() => client.caughtUp > 0 && client.revs.length >= 30, 'a healthy pull');
  await client.close();
  const rest = await request('GET', `${server.url}/db/doc-1`, undefined, basicAuth(ALICE.username, ALICE.password));
  expect(rest.status).toBe(200);
  expect(serverAlive()).toBe(true);
}

async function connect(): Promise<BlipTestClient> {
  const client = await connectBlip(server.url, 'db', { auth: ALICE });
  opened.push(client.ws);
  return client;
}

/** A socket with its own BLIP connection and request handler (answers the server however the test wants). */
async function customClient(onRequest: (rq: IncomingRequest) => void): Promise<{ ws: WebSocket; connection: BlipConnection; closed: () => number | undefined }> {
  const ws = await rawSocket();
  let closeCode: number | undefined;
  const connection = new BlipConnection({
    send: (frame) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: true });
    },
    closeTransport: (code, reason) => ws.close(code, reason),
    onRequest,
  });
  ws.on('message', (data: Buffer) => connection.receive(data));
  ws.on('close', (code, reason) => {
    closeCode = code;
    connection.transportClosed(code, reason.toString());
  });
  return { ws, connection, closed: () => closeCode };
}

async function rawSocket(): Promise<WebSocket> {
  const result = await openSocket(blipUrl(server.url, 'db'), { auth: ALICE });
  if (!('ws' in result)) throw new Error(`upgrade refused: ${result.refused.status}`);
  result.ws.on('error', () => undefined);
  opened.push(result.ws);
  return result.ws;
}

function closeCodeOf(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

/** Writes well-formed frames of hand-made messages on a raw socket (the running checksum kept in step). */
class FrameWriter {
  readonly #codec = new OutputCodec();
  readonly #ws: WebSocket;
  constructor(ws: WebSocket) {
    this.#ws = ws;
  }
  frame(number: number, flags: number, data: Uint8Array): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(this.#codec.encode(number, flags, data, (flags & FrameFlag.compressed) !== 0), { binary: true });
  }
}

/** The reply is an error reply, or the connection went away (the request was rejected). */
async function replyOrClose(client: { request: (rq: Parameters<BlipTestClient['request']>[0]) => Promise<IncomingMessage> }, rq: Parameters<BlipTestClient['request']>[0]): Promise<IncomingMessage | 'closed'> {
  try {
    return await client.request(rq);
  } catch {
    return 'closed';
  }
}

describe('handshake refusals', () => {
  it('refuses missing or wrong auth with 401 and unsupported or missing subprotocols with 400', async () => {
    const none = await openSocket(blipUrl(server.url, 'db'), {});
    expect('refused' in none && none.refused.status).toBe(401);
    if ('refused' in none) expect(none.refused.headers['www-authenticate']).toMatch(/^Basic/);
    const wrong = await openSocket(blipUrl(server.url, 'db'), { auth: { username: 'alice', password: 'x' } });
    expect('refused' in wrong && wrong.refused.status).toBe(401);
    const nobody = await openSocket(blipUrl(server.url, 'db'), { auth: { username: 'ghost', password: 'x' } });
    expect('refused' in nobody && nobody.refused.status).toBe(401);
    const bad = await openSocket(blipUrl(server.url, 'db'), { auth: ALICE, protocols: ['BLIP_3+CBMobile_9', 'chat'] });
    expect('refused' in bad && bad.refused.status).toBe(400);
    const missing = await openSocket(blipUrl(server.url, 'db'), { auth: ALICE, protocols: [] });
    expect('refused' in missing && missing.refused.status).toBe(400);
    const noDb = await openSocket(blipUrl(server.url, 'nodb'), { auth: ALICE });
    expect('refused' in noDb && noDb.refused.status).toBe(404);
    const deep = await openSocket(`${blipUrl(server.url, 'db')}/extra`, { auth: ALICE });
    expect('refused' in deep && deep.refused.status).toBe(404);
    await expectHealthy();
  });

  it('answers malformed upgrade requests over a raw socket with an HTTP error or a close', async () => {
    const raw = [
      `GET /db/_blipsync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${basicLine()}Sec-WebSocket-Protocol: ${CBMOBILE_3}\r\n\r\n`,
      `GET /db/_blipsync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${basicLine()}Sec-WebSocket-Version: 99\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Protocol: ${CBMOBILE_3}\r\n\r\n`,
      `GET /%ZZ/_blipsync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
      `POST /db/_blipsync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
      `GET /db/_blipsync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nAuthorization: Basic !!!\r\n\r\n`,
    ];
    for (const text of raw) {
      const answer = await rawHttp(text);
      expect(answer === '' || /^HTTP\/1\.1 [45]\d\d /.test(answer)).toBe(true);
    }
    await expectHealthy();
  });
});

function basicLine(): string {
  return `Authorization: ${basicAuth(ALICE.username, ALICE.password).Authorization}\r\n`;
}

function rawHttp(text: string): Promise<string> {
  return new Promise((resolve) => {
    const url = new URL(server.url);
    const socket = netConnect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(text);
    socket.setTimeout(5_000, () => socket.destroy());
  });
}

describe('messages out of order or of the wrong shape', () => {
  it('answers each with an error reply and keeps the connection usable', async () => {
    const client = await connect();
    const expectError = async (rq: Parameters<BlipTestClient['request']>[0], code?: number): Promise<void> => {
      const reply = await client.request(rq);
      expect(reply.error, JSON.stringify(rq).slice(0, 200)).toBeDefined();
      if (code !== undefined) expect(reply.error!.code).toBe(code);
    };
    await expectError({ profile: 'frobnicate' }, 404);
    await expectError({ properties: { notAProfile: 'x' } }, 404);
    await expectError({ profile: '' }, 404);
    await expectError({ profile: '__proto__' }, 404);
    await expectError({ profile: 'constructor' }, 404);
    await expectError({ profile: 'rev', properties: {} }, 400);
    await expectError({ profile: 'rev', properties: { id: 'x', rev: 'nonsense' } }, 400);
    await expectError({ profile: 'rev', properties: { id: 'x', rev: '3-abc', history: '1-abc' } }, 400);
    await expectError({ profile: 'rev', properties: { id: 'x', rev: '1-abc' }, body: '{not json' }, 400);
    await expectError({ profile: 'rev', properties: { id: 'x', rev: '1-abc' }, body: '[1,2]' }, 400);
    await expectError({ profile: 'rev', properties: { id: 'x', rev: '1-abc', deltaSrc: '1-a' }, body: '{}' }, 400);
    // A revision without proposeChanges first is accepted, as by Sync Gateway.
    const plain = await client.request({ profile: 'rev', properties: { id: 'unproposed', rev: '1-abc' }, body: '{"channels":["a"]}' });
    expect(plain.error).toBeUndefined();
    await expectError({ profile: 'setCheckpoint', properties: { client: 'c1' }, body: 'nope' }, 400);
    await expectError({ profile: 'setCheckpoint', properties: { client: 'c1' }, body: '[]' }, 400);
    await expectError({ profile: 'setCheckpoint', properties: {}, body: '{}' }, 400);
    await expectError({ profile: 'setCheckpoint', properties: { client: 'c1', rev: '0-7' }, body: '{}' }, 409);
    await expectError({ profile: 'setCheckpoint', properties: { client: 'c1', rev: 'garbage' }, body: '{}' });
    const set = await client.request({ profile: 'setCheckpoint', properties: { client: 'c1' }, body: '{"remote":1}' });
    expect(set.error).toBeUndefined();
    await expectError({ profile: 'setCheckpoint', properties: { client: 'c1' }, body: '{"remote":2}' }, 409);
    await expectError({ profile: 'getCheckpoint', properties: {} }, 400);
    await expectError({ profile: 'getAttachment', properties: { digest: 'sha1-never-offered' } }, 403);
    await expectError({ profile: 'getAttachment', properties: {} }, 400);
    await expectError({ profile: 'proposeChanges', body: '{"a":1}' }, 400);
    await expectError({ profile: 'proposeChanges', body: '[[1,2]]' }, 400);
    await expectError({ profile: 'proposeChanges', body: '[[' }, 400);
    await expectError({ profile: 'changes', body: '[[1]]' }, 400);
    await expectError({ profile: 'changes', body: '"x"' }, 400);
    await expectError({ profile: 'subChanges', properties: { since: '{{' } }, 400);
    await expectError({ profile: 'subChanges', properties: { batch: '-1' } }, 400);
    await expectError({ profile: 'subChanges', body: '{"docIDs":[1]}' }, 400);
    await expectError({ profile: 'subChanges', body: '{"docIDs":' }, 400);
    await expectError({ profile: 'subChanges', properties: { continuous: 'true' }, body: '{"docIDs":["a"]}' }, 400);

    const first = await client.request({ profile: 'subChanges', properties: { continuous: 'true' } });
    expect(first.error).toBeUndefined();
    await expectError({ profile: 'subChanges', properties: { continuous: 'true' } });
    const unsub = await client.request({ profile: 'unsubChanges' });
    expect(unsub.error).toBeUndefined();
    const again = await client.request({ profile: 'getCheckpoint', properties: { client: 'c1' } });
    expect(again.error).toBeUndefined();
    await client.close();
    await expectHealthy();
  });

  it('survives answers to its changes messages of every wrong shape', async () => {
    const answers = ['{"x":1}', '[[1,2]]', 'not json', '[["1-a",5],{}]', '"str"', '', '[null,[],7,"x"]', JSON.stringify(Array(500).fill(['1-zzz']))];
    for (const answer of answers) {
      const peer = await customClient((rq) => {
        if (rq.profile === 'changes' && !rq.noReply) rq.respond({ body: answer, properties: { maxHistory: 'abc' } });
        else if (rq.profile === 'changes') return;
        else if (!rq.noReply) rq.respondWithError({ code: 404, message: 'no' });
      });
      const reply = await peer.connection.sendRequest({ profile: 'subChanges', properties: { batch: 10 } });
      expect(reply.error).toBeUndefined();
      const cp = await peer.connection.sendRequest({ profile: 'getCheckpoint', properties: { client: 'shape' } });
      expect(cp.error?.code).toBe(404);
      peer.ws.close();
    }
    const errPeer = await customClient((rq) => {
      if (!rq.noReply) rq.respondWithError({ domain: 'HTTP', code: 500, message: 'client broke' });
    });
    await errPeer.connection.sendRequest({ profile: 'subChanges', properties: { batch: 10 } });
    const cp = await errPeer.connection.sendRequest({ profile: 'getCheckpoint', properties: { client: 'shape' } });
    expect(cp.error?.code).toBe(404);
    errPeer.ws.close();
    await expectHealthy();
  });
});

describe('oversized input', () => {
  it('refuses huge properties, many properties and bodies beyond max_document_size', async () => {
    const client = await connect();
    const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`p${i}`, `v${i}`]));
    const manyReply = await replyOrClose(client, { profile: 'getCheckpoint', properties: { client: 'many', ...many } });
    expect(manyReply !== 'closed' && manyReply.error?.code).toBe(404);

    const hugeDoc = JSON.stringify({ channels: ['a'], blob: 'x'.repeat(MAX_DOC * 2) });
    const tooBig = await client.request({ profile: 'rev', properties: { id: 'huge', rev: '1-abc' }, body: hugeDoc });
    expect(tooBig.error?.code).toBe(413);
    const cpBig = await client.request({ profile: 'setCheckpoint', properties: { client: 'big' }, body: JSON.stringify({ x: 'y'.repeat(MAX_DOC * 2) }) });
    expect(cpBig.error).toBeDefined();
    expect(client.connection.isOpen).toBe(true);

    // Several MB of properties (beyond LiteCore's 100 KiB cap, which our own client enforces before
    // sending): hand-made frames; the server closes the connection at the first one.
    const ws = await rawSocket();
    const closed = closeCodeOf(ws);
    const writer = new FrameWriter(ws);
    const props = Buffer.from(`Profile\0getCheckpoint\0client\0p\0filler\0${'z'.repeat(4 * 1024 * 1024)}\0`);
    const header = encodeUVarint(props.length);
    const whole = Buffer.concat([header, props]);
    for (let o = 0; o < whole.length && ws.readyState === WebSocket.OPEN; o += 16 * 1024) {
      const end = Math.min(whole.length, o + 16 * 1024);
      writer.frame(1, MessageType.request | (end < whole.length ? FrameFlag.moreComing : 0), whole.subarray(o, end));
      if (o % (256 * 1024) === 0) await new Promise((r) => setTimeout(r, 1));
    }
    expect(await closed).not.toBe(1000);
    const local = await replyOrClose(client, { profile: 'getCheckpoint', properties: { client: 'p', filler: 'z'.repeat(4 * 1024 * 1024) } }).catch(() => 'refused');
    expect(local === 'closed' || local === 'refused' || (typeof local === 'object' && local.error !== undefined)).toBe(true);

    // A body far beyond any limit closes the connection (1009) instead of being buffered.
    const bigBody = await connect();
    const endless = await replyOrClose(bigBody, { profile: 'rev', properties: { id: 'endless', rev: '1-abc' }, body: Buffer.alloc(8 * 1024 * 1024, 0x20) });
    expect(endless === 'closed' || endless.error !== undefined).toBe(true);
    await expectHealthy();
  });

  it('closes a connection whose message frames keep arriving without end', async () => {
    const ws = await rawSocket();
    const closed = closeCodeOf(ws);
    const writer = new FrameWriter(ws);
    const first = encodeMessagePayload({ Profile: 'rev', id: 'endless', rev: '1-abc' }, new Uint8Array(8 * 1024));
    writer.frame(1, MessageType.request | FrameFlag.moreComing, first);
    const chunk = new Uint8Array(16 * 1024).fill(0x41);
    let sent = 0;
    let code: number | undefined;
    void closed.then((c) => (code = c));
    while (code === undefined && ws.readyState === WebSocket.OPEN && sent < 512 * 1024 * 1024) {
      writer.frame(1, MessageType.request | FrameFlag.moreComing, chunk);
      sent += chunk.length;
      if (sent % (256 * 1024) === 0 || ws.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 1));
    }
    expect(await closed).toBe(1009);
    expect(sent).toBeLessThan(512 * 1024 * 1024);
    await expectHealthy();
  });

  it('closes a compressed frame that inflates beyond the limits', async () => {
    const ws = await rawSocket();
    const closed = closeCodeOf(ws);
    const writer = new FrameWriter(ws);
    const payload = encodeMessagePayload({ Profile: 'rev', id: 'bomb', rev: '1-abc' }, new Uint8Array(900 * 1024));
    writer.frame(1, MessageType.request | FrameFlag.compressed | FrameFlag.moreComing, payload);
    for (let i = 0; i < 300; i++) writer.frame(1, MessageType.request | FrameFlag.compressed | FrameFlag.moreComing, new Uint8Array(900 * 1024));
    expect(await closed).toBe(1009);
    await expectHealthy();
  });
});

describe('random input', () => {
  const PROFILES = ['getCheckpoint', 'setCheckpoint', 'subChanges', 'unsubChanges', 'changes', 'proposeChanges', 'rev', 'norev', 'getAttachment', 'proveAttachment', 'getRev', 'putRev', 'x'];
  const KEYS = ['client', 'rev', 'id', 'history', 'deleted', 'noconflicts', 'since', 'batch', 'continuous', 'filter', 'channels', 'digest', 'sequence', 'activeOnly', 'revocations', 'maxHistory', 'deltaSrc', 'compress'];
  const value = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom('true', 'false', '0', '1', '1-abc', '2-def', '0-1', 'null', '[]', '{}', '"x"', '-1', '99999999999999999999', 'sync_gateway/bychannel', '1-abc,1-def', 'sha1-x'),
    fc.integer().map(String),
  );
  const body = fc.oneof(
    fc.constant(''),
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 200 }),
    fc.constantFrom('[]', '{}', '[[1,"doc-1","1-abc"]]', '[["doc-1","1-abc"]]', '{"docIDs":["doc-1"]}', '{"_attachments":{"a":{"stub":true,"digest":"sha1-x"}}}', 'null', '[null]'),
    fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b).toString('latin1')),
  );
  const requestArb = fc.record({
    profile: fc.oneof(fc.constantFrom(...PROFILES), fc.string({ maxLength: 12 })),
    properties: fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ minLength: 1, maxLength: 10 })), value, { maxKeys: 6 }),
    body,
    urgent: fc.boolean(),
    compressed: fc.boolean(),
    noReply: fc.boolean(),
  });

  it('answers a few hundred random well-formed requests with a reply or an error', async () => {
    const samples = fc.sample(requestArb, { numRuns: 400, seed: SEED });
    let client = await connect();
    let closes = 0;
    for (const [i, s] of samples.entries()) {
      if (!client.connection.isOpen) {
        closes++;
        client = await connect();
      }
      const properties = Object.fromEntries(Object.entries(s.properties).filter(([k]) => k !== 'Profile' && !k.includes('\0')));
      for (const [k, v] of Object.entries(properties)) if (v.includes('\0')) properties[k] = v.replaceAll('\0', '');
      const rq = { profile: s.profile.replaceAll('\0', ''), properties, body: s.body, urgent: s.urgent, compressed: s.compressed };
      if (s.noReply) {
        client.connection.sendNoReply(rq);
        continue;
      }
      const reply = await replyOrClose(client, rq);
      if (reply === 'closed') continue;
      expect([1, 2], `request ${i}`).toContain(reply.type);
      if (reply.error) expect(reply.error.code, `request ${i}: ${JSON.stringify(rq).slice(0, 300)}`).not.toBe(500);
      if (i % 100 === 99) await expectHealthy();
    }
    expect(closes).toBeLessThan(20);
    await client.close();
    await expectHealthy();
  });

  it('closes connections that send random byte frames, and keeps serving others', async () => {
    const frames = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 300 }), { numRuns: 120, seed: SEED });
    for (let i = 0; i < frames.length; i += 20) {
      await Promise.all(
        frames.slice(i, i + 20).map(async (bytes) => {
          const ws = await rawSocket();
          const closed = closeCodeOf(ws);
          ws.send(bytes, { binary: true });
          ws.send(bytes, { binary: true });
          // Either the server closed the connection, or the frames parsed as something harmless (an ACK):
          // then the socket must still be open and answer a ping.
          const outcome = await Promise.race([closed.then((code) => ({ code })), pong(ws).then(() => ({ code: 0 }))]);
          if (outcome.code !== 0) expect(outcome.code).not.toBe(1000);
          ws.terminate();
        }),
      );
      await expectHealthy();
    }
  });
});

function pong(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    // The reply to a ping comes after the server handled the frames sent before it.
    ws.once('pong', () => resolve());
    setImmediate(() => {
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    });
  });
}

describe('memory bounds', () => {
  it('stops reading from a peer that floods requests without reading replies, and keeps serving others', async () => {
    const before = rssOf(server.process.pid!);
    const ws = await rawSocket();
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const writer = new FrameWriter(ws);
    // Each request asks for a 64 KiB-ish reply: checkpoint bodies. First store one.
    const peer = await connect();
    const stored = await peer.request({ profile: 'setCheckpoint', properties: { client: 'flood' }, body: JSON.stringify({ pad: 'p'.repeat(60 * 1024) }) });
    expect(stored.error).toBeUndefined();
    let number = 1;
    const payload = encodeMessagePayload({ Profile: 'getCheckpoint', client: 'flood' }, undefined);
    // The server stops reading once its writes back up, so our own send buffer must grow instead.
    while (ws.bufferedAmount < 8 * 1024 * 1024 && number < 2_000_000) {
      for (let i = 0; i < 500; i++) writer.frame(number++, MessageType.request, payload);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    await expectHealthy();
    const after = rssOf(server.process.pid!);
    expect(after - before).toBeLessThan(300 * 1024 * 1024);
    ws.terminate();
    await peer.close();
  });
});

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}
