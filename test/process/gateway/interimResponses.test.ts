// Responses at the edges of HTTP/1.1 from an app written byte by byte, through a real gateway and
// a real queue-proxy: an unsolicited 100 is skipped, 103 Early Hints reach an HTTP/1.1 client, a
// 204 loses its Content-Length; and an HTTP/0.9 request is answered 400 at once.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueueProxy, type QueueProxyProc } from '../../../harness/processes.ts';
import { rawRequest } from '../../support/rawHttp.ts';
import { ingress, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'raw.default.example.com';

/** What the app answers, by the request's path; an array is written a part at a time, 20 ms apart. */
const ANSWERS: Record<string, string | string[]> = {
  '/continue': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok',
  // Split inside the 100's status line and its head, so no single read holds a whole head.
  '/continue-split': [
    'HTTP/1.1 10',
    '0 Continue\r\n',
    '\r\nHTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok',
  ],
  '/hints':
    'HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n' +
    'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok',
  '/no-content': 'HTTP/1.1 204 No Content\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
};

/** An app that reads one request head per connection, answers it from ANSWERS and closes the connection. */
function startRawApp(): Promise<Server> {
  const server = createServer((socket: Socket) => {
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = head.split(' ')[1] ?? '/';
      const answer = ANSWERS[path] ?? 'HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';
      const parts = Array.isArray(answer) ? [...answer] : [answer];
      const writeNext = () => {
        const part = parts.shift();
        if (part === undefined) socket.end();
        else {
          socket.write(part);
          setTimeout(writeNext, 20);
        }
      };
      writeNext();
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const request = (path: string, version = '1.1') =>
  `GET ${path} HTTP/${version}\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;

describe('interim and bodiless responses', () => {
  let app: Server | undefined;
  let qp: QueueProxyProc | undefined;
  let gateway: GatewayProc | undefined;
  const ports: Array<[string, () => number]> = [
    ['gateway', () => gateway!.externalPort],
    ['queue-proxy', () => qp!.servingPort],
  ];

  beforeAll(async () => {
    app = await startRawApp();
    const appPort = (app.address() as AddressInfo).port;
    qp = await startQueueProxy(appPort);
    gateway = await startGateway({
      ingresses: [ingress('raw', [{ hosts: [HOST], paths: [{ splits: [split('raw-00001', 100)] }] }])],
      backends: [{ name: 'raw-00001', addresses: [`127.0.0.1:${appPort}`] }],
    });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await gateway?.stop();
    await qp?.stop();
    await new Promise((resolve) => (app ? app.close(resolve) : resolve(undefined)));
  }, HOOK_TIMEOUT_MS);

  it.each(ports)('skips an unsolicited 100 at the %s, whole or arriving in pieces', async (_, port) => {
    for (const path of ['/continue', '/continue-split']) {
      const answer = await rawRequest(port(), request(path));
      expect(answer.statuses, path).toEqual([200]);
      expect(answer.text.endsWith('\r\n\r\nok'), path).toBe(true);
    }
  });

  it.each(ports)(
    'hands 103 Early Hints to an HTTP/1.1 client at the %s, and not to an HTTP/1.0 one',
    async (_, port) => {
      const answer = await rawRequest(port(), request('/hints'));
      expect(answer.statuses).toEqual([103, 200]);
      expect(answer.text).toMatch(
        /^HTTP\/1\.1 103 [^\r]*\r\n(?:[^\r]+\r\n)*link: <\/style\.css>; rel=preload; as=style\r\n/i,
      );
      expect((await rawRequest(port(), request('/hints', '1.0'))).statuses).toEqual([200]);
    },
  );

  it.each(ports)('sends a 204 without Content-Length at the %s', async (_, port) => {
    const answer = await rawRequest(port(), request('/no-content'));
    expect(answer.statuses).toEqual([204]);
    expect(answer.text).not.toMatch(/\r\ncontent-length:/i);
  });

  it.each(ports)('answers an HTTP/0.9 request 400 at the %s without waiting for a timeout', async (_, port) => {
    const answer = await rawRequest(port(), 'GET /\r\n', 10_000);
    expect(answer.closed).toBe(true);
    expect(answer.statuses).toEqual([400]);
  });
});
