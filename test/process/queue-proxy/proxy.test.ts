// Requests through a real queue-proxy process to a real app process: headers, keep-alive,
// bodies, websocket upgrades and h2c.
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startQueueProxy,
  startSampleApp,
  waitForLine,
  type QueueProxyProc,
  type SampleApp,
} from '../../../harness/processes.ts';

interface Echo {
  method: string;
  path: string;
  httpVersion: string;
  headers: Record<string, string>;
  bodyLength: number;
  remotePort: number;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string>,
  agent: Agent,
  body?: Buffer,
): Promise<{ res: IncomingMessage; reused: boolean; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent, method: body ? 'POST' : 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ res, reused: req.reusedSocket, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('queue-proxy in front of an HTTP/1.1 app', () => {
  let app: SampleApp;
  let qp: QueueProxyProc;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port);
  });
  afterAll(async () => {
    agent.destroy();
    await qp?.stop();
    await app?.stop();
  });

  it('passes request headers through, drops hop-by-hop and revision headers, restores the original host, builds Forwarded', async () => {
    const { res, text } = await get(
      qp.servingPort,
      '/some/path?x=1',
      {
        'X-Custom': 'kept',
        'Knative-Serving-Revision': 'app-00001',
        'Knative-Serving-Namespace': 'default',
        'K-Original-Host': 'app.default.example.com',
        'X-Forwarded-For': '10.0.0.1, 2001:db8::1',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'app.example.com',
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'must not pass',
      },
      agent,
    );
    expect(res.statusCode).toBe(200);
    const echo = JSON.parse(text) as Echo;
    expect(echo.path).toBe('/some/path?x=1');
    expect(echo.headers['x-custom']).toBe('kept');
    expect(echo.headers.host).toBe('app.default.example.com');
    expect(echo.headers['knative-serving-revision']).toBeUndefined();
    expect(echo.headers['knative-serving-namespace']).toBeUndefined();
    expect(echo.headers['k-original-host']).toBeUndefined();
    expect(echo.headers['x-hop']).toBeUndefined();
    expect(echo.headers.forwarded).toBe('for=10.0.0.1;host=app.example.com;proto=https, for="[2001:db8::1]"');
  });

  it('reuses the client connection and the connection to the app across requests', async () => {
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await get(qp.servingPort, `/ka/${i}`, {}, agent));
    expect(results.every((r) => r.res.statusCode === 200)).toBe(true);
    expect(results.slice(1).every((r) => r.reused)).toBe(true);
    const appSidePorts = new Set(results.map((r) => (JSON.parse(r.text) as Echo).remotePort));
    expect(appSidePorts.size).toBe(1);
  });

  it('streams request and response bodies', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const { res, text } = await get(
      qp.servingPort,
      '/upload',
      { 'content-type': 'application/octet-stream' },
      agent,
      body,
    );
    expect(res.statusCode).toBe(200);
    expect((JSON.parse(text) as Echo).bodyLength).toBe(body.length);
    const download = await get(qp.servingPort, '/download?bytes=2000000', {}, agent);
    expect(download.text.length).toBe(2_000_000);
  });

  it('passes a websocket upgrade through and relays bytes both ways', async () => {
    const { status, path, host, echoed } = await new Promise<{
      status: number;
      path: string;
      host: string;
      echoed: string;
    }>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: qp.servingPort,
        path: '/ws',
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'K-Original-Host': 'ws.example.com',
        },
      });
      req.on('upgrade', (res, socket) => {
        let echoed = '';
        socket.on('data', (chunk: Buffer) => {
          echoed += chunk.toString();
          if (echoed.length >= 'hello over the upgraded socket'.length) {
            socket.destroy();
            resolve({
              status: res.statusCode ?? 0,
              path: String(res.headers['x-app-path']),
              host: String(res.headers['x-app-host']),
              echoed,
            });
          }
        });
        socket.write('hello over the upgraded socket');
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(101);
    expect(path).toBe('/ws');
    expect(host).toBe('ws.example.com');
    expect(echoed).toBe('hello over the upgraded socket');
  });

  it("relays the app's refusal of an upgrade", async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: qp.servingPort,
        path: '/no-upgrade',
        headers: { Connection: 'Upgrade', Upgrade: 'websocket' },
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('upgrade', () => reject(new Error('upgraded although the app refused')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(426);
    expect(body).toBe('nope');
  });

  it('answers 502 when the app drops the connection, logs it, and serves the next request', async () => {
    const failed = await get(qp.servingPort, '/?reset=1', {}, agent);
    expect(failed.res.statusCode).toBe(502);
    // The client learns nothing of the app's address or the error, only an id to quote.
    const requestId = failed.res.headers['x-request-id'];
    expect(failed.text).toBe(`bad gateway\nrequest id: ${requestId}\n`);
    const logged = await waitForLine(qp, (line) => line.message === 'upstream failed', 5000);
    expect(logged).toMatchObject({ severity: 'warn', path: '/?reset=1', phase: 'proxying', requestId });
    expect(logged.error).toEqual(expect.any(String));
    expect((await get(qp.servingPort, '/', {}, agent)).res.statusCode).toBe(200);
  });

  it('rejects a kubelet probe whose K-Network-Probe is not "queue", as Knative does', async () => {
    const { res, text } = await get(
      qp.servingPort,
      '/healthz',
      { 'User-Agent': 'kube-probe/1.34', 'K-Network-Probe': 'nope' },
      agent,
    );
    expect(res.statusCode).toBe(400);
    expect(text).toBe('unexpected probe header value: nope');
  });

  it('echoes K-Network-Hash for ingress probes without reaching the app', async () => {
    const { res } = await get(
      qp.servingPort,
      '/healthz',
      { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'abc123' },
      agent,
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['k-network-hash']).toBe('abc123');
  });
});

describe('queue-proxy in front of an h2c app', () => {
  let app: SampleApp;
  let qp: QueueProxyProc;

  beforeAll(async () => {
    app = await startSampleApp({ APP_PROTOCOL: 'h2c' });
    qp = await startQueueProxy(app.port);
  });
  afterAll(async () => {
    await qp?.stop();
    await app?.stop();
  });

  it('forwards HTTP/2 prior-knowledge requests to the app over h2c', async () => {
    const session = http2Connect(`http://127.0.0.1:${qp.servingPort}`);
    try {
      const answers = await Promise.all(
        [1, 2, 3].map(
          (i) =>
            new Promise<{ status: number; echo: Echo }>((resolve, reject) => {
              const stream = session.request({ ':path': `/grpc-like/${i}`, ':method': 'POST', 'x-custom': `v${i}` });
              let status = 0;
              let text = '';
              stream.on('response', (headers) => {
                status = Number(headers[':status']);
              });
              stream.setEncoding('utf8');
              stream.on('data', (chunk: string) => {
                text += chunk;
              });
              stream.on('end', () => resolve({ status, echo: JSON.parse(text) as Echo }));
              stream.on('error', reject);
              stream.end(`body ${i}`);
            }),
        ),
      );
      for (const [index, { status, echo }] of answers.entries()) {
        expect(status).toBe(200);
        expect(echo.httpVersion).toBe('2.0');
        expect(echo.path).toBe(`/grpc-like/${index + 1}`);
        expect(echo.headers['x-custom']).toBe(`v${index + 1}`);
        expect(echo.bodyLength).toBe(`body ${index + 1}`.length);
      }
    } finally {
      session.close();
    }
  });
});
