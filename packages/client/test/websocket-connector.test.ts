import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { blipSyncUrl, webSocketConnector } from '../src/transport/websocket-connector.ts';

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** An upgrade endpoint that challenges requests without Basic credentials, recording each attempt's headers. */
async function challengingServer(challenge: string | undefined): Promise<{ url: string; attempts: IncomingHttpHeaders[] }> {
  const attempts: IncomingHttpHeaders[] = [];
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => [...protocols][0] ?? false });
  const http = createServer();
  http.on('upgrade', (req, socket, head) => {
    attempts.push(req.headers);
    if (req.headers.authorization === undefined) {
      socket.end(`HTTP/1.1 401 Unauthorized\r\n${challenge ? `WWW-Authenticate: ${challenge}\r\n` : ''}Content-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.close(1000));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  servers.push(http, wss);
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/db`, attempts };
}

describe('WebSocket connector', () => {
  it('builds the _blipsync URL', () => {
    expect(blipSyncUrl('http://h:4984/db')).toBe('ws://h:4984/db/_blipsync');
    expect(blipSyncUrl('wss://h/db/')).toBe('wss://h/db/_blipsync');
    expect(blipSyncUrl('ws://h/db/_blipsync')).toBe('ws://h/db/_blipsync');
  });

  it('sends no credentials until challenged, then retries with Basic auth and both subprotocols', async () => {
    const { url, attempts } = await challengingServer('Basic realm="Syncline"');
    const connect = webSocketConnector({ url, auth: { username: 'alice', password: 'pw' } });
    const session = await connect({ onRequest: () => undefined });
    expect(session.protocol).toBe('BLIP_3+CBMobile_3');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.authorization).toBeUndefined();
    expect(attempts[0]!['sec-websocket-protocol']).toBe('BLIP_3+CBMobile_3,BLIP_3+CBMobile_2');
    expect(attempts[1]!.authorization).toBe(`Basic ${Buffer.from('alice:pw').toString('base64')}`);
    await session.closed;
  });

  it('gives up with a permanent 401 when there is no Basic challenge', async () => {
    const { url, attempts } = await challengingServer(undefined);
    const connect = webSocketConnector({ url, auth: { username: 'alice', password: 'pw' } });
    await expect(connect({ onRequest: () => undefined })).rejects.toMatchObject({ status: 401, permanent: true });
    expect(attempts).toHaveLength(1);
  });

  it('sends the session cookie', async () => {
    const { url, attempts } = await challengingServer('Basic realm="x"');
    const connect = webSocketConnector({ url, sessionCookie: 'abc' });
    await expect(connect({ onRequest: () => undefined })).rejects.toMatchObject({ status: 401 });
    expect(attempts[0]!.cookie).toBe('SyncGatewaySession=abc');
  });
});
