// Routing and protocol handling through a real gateway process: hosts per listener, tags, probes,
// websockets, h2c, limits on what a client may send, and retrying a refused connection.
import { connect as http2Connect, createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingressHash, type Ingress } from '../../../gateway/routing/index.ts';
import { freePort, startSampleApp, type SampleApp } from '../../../harness/processes.ts';
import {
  get,
  ingress,
  revisionOf,
  split,
  startGateway,
  type Echo,
  type GatewayProc,
} from '../../../harness/gateway.ts';

// Starting several processes can take a while on a busy machine; vitest's default hook timeout is 10s.
const HOOK_TIMEOUT_MS = 60_000;

const HOST = 'hello.default.example.com';
const TAG_HOST = 'canary-hello.default.example.com';
const LOCAL_HOST = 'hello.default.svc.cluster.local';

/** Reads from a raw socket until `done` holds for what arrived, or the socket closes. */
function readUntil(socket: Socket, done: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (closed: boolean) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({ text, closed });
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) finish(false);
    };
    const onClose = () => finish(true);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

function h2Get(port: number, authority: string, path = '/'): Promise<{ status: number; text: string }> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    session.once('error', reject);
    const stream = session.request({ ':path': path, ':authority': authority });
    let status = 0;
    let text = '';
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('end', () => {
      session.close();
      resolve({ status, text });
    });
    stream.on('error', reject);
    stream.end();
  });
}

describe('gateway routing', () => {
  const apps: SampleApp[] = [];
  let h2cApp: SampleApp;
  // gRPC's trailers-only status needs a backend that sends trailers, which the sample app does not.
  let grpcBackend: Http2Server;
  let gateway: GatewayProc;
  let external: Pool;
  let internal: Pool;
  let helloIngress: Ingress;

  beforeAll(async () => {
    apps.push(...(await Promise.all([startSampleApp(), startSampleApp()])));
    h2cApp = await startSampleApp({ APP_PROTOCOL: 'h2c' });
    grpcBackend = createHttp2Server((req, res) => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      res.addTrailers({
        'grpc-status': '0',
        'grpc-message': `revision=${String(req.headers['knative-serving-revision'])};te=${String(req.headers.te)}`,
      });
      req.resume();
      req.on('end', () => res.end(Buffer.from([0, 0, 0, 0, 0])));
    });
    await new Promise<void>((resolve) => grpcBackend.listen(0, '127.0.0.1', resolve));
    const refusedPort = await freePort();
    const [stable, canary] = apps.map((app) => `127.0.0.1:${app.port}`);
    // Tag-header routing enabled: the Route's KIngress shape from knative's resources/ingress.go.
    helloIngress = ingress('hello', [
      {
        hosts: [HOST],
        paths: [
          { headers: { 'Knative-Serving-Tag': { exact: 'canary' } }, splits: [split('hello-00002', 100)] },
          { appendHeaders: { 'Knative-Serving-Default-Route': 'true' }, splits: [split('hello-00001', 100)] },
        ],
      },
      {
        hosts: [TAG_HOST],
        paths: [{ appendHeaders: { 'Knative-Serving-Tag': 'canary' }, splits: [split('hello-00002', 100)] }],
      },
      { hosts: [LOCAL_HOST], visibility: 'ClusterLocal', paths: [{ splits: [split('hello-00001', 100)] }] },
    ]) as Ingress;
    gateway = await startGateway(
      {
        ingresses: [
          helloIngress,
          ingress('grpc', [{ hosts: ['grpc.default.example.com'], paths: [{ splits: [split('grpc-00001', 100)] }] }]),
          ingress('trailers', [
            { hosts: ['trailers.default.example.com'], paths: [{ splits: [split('trailers-00001', 100)] }] },
          ]),
          ingress('flaky', [
            { hosts: ['flaky.default.example.com'], paths: [{ splits: [split('flaky-00001', 100)] }] },
          ]),
          ingress('orphan', [
            { hosts: ['orphan.default.example.com'], paths: [{ splits: [split('orphan-00001', 100)] }] },
          ]),
        ],
        backends: [
          { name: 'hello-00001', addresses: [stable!] },
          { name: 'hello-00002', addresses: [canary!] },
          { name: 'grpc-00001', protocol: 'h2c', addresses: [`127.0.0.1:${h2cApp.port}`] },
          {
            name: 'trailers-00001',
            protocol: 'h2c',
            addresses: [`127.0.0.1:${(grpcBackend.address() as AddressInfo).port}`],
          },
          // One endpoint refuses connections: requests without a body are retried on the other.
          { name: 'flaky-00001', addresses: [`127.0.0.1:${refusedPort}`, stable!] },
        ],
      },
      ['--headers-timeout', '300ms', '--max-body-bytes', '1024', '--access-log-every', '1'],
    );
    external = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 4 });
    internal = new Pool(`http://127.0.0.1:${gateway.internalPort}`, { connections: 4 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([external?.close(), internal?.close()]);
    await gateway?.stop();
    await Promise.all([...apps, h2cApp].map((app) => app?.stop()));
    await new Promise((resolve) => grpcBackend?.close(resolve));
  }, HOOK_TIMEOUT_MS);

  it('routes the default host to the default target and marks it as the default route', async () => {
    const answer = await get(external, HOST, '/some/path?q=1');
    expect(answer.status).toBe(200);
    const echo = JSON.parse(answer.text) as Echo;
    expect(echo.path).toBe('/some/path?q=1');
    expect(echo.headers).toMatchObject({
      'knative-serving-revision': 'hello-00001',
      'knative-serving-namespace': 'default',
      'knative-serving-default-route': 'true',
      'x-forwarded-proto': 'http',
      'x-forwarded-for': '127.0.0.1',
      host: HOST,
    });
  });

  it('sends the tag host and the Knative-Serving-Tag header to the tagged revision', async () => {
    const byHost = await get(external, TAG_HOST);
    expect(revisionOf(byHost.text)).toBe('hello-00002');
    expect((JSON.parse(byHost.text) as Echo).headers['knative-serving-tag']).toBe('canary');
    const byHeader = await get(external, HOST, '/', { 'Knative-Serving-Tag': 'canary' });
    expect(revisionOf(byHeader.text)).toBe('hello-00002');
    const unknownTag = await get(external, HOST, '/', { 'Knative-Serving-Tag': 'nope' });
    expect(revisionOf(unknownTag.text)).toBe('hello-00001');
  });

  it('answers 404 for unknown hosts, and serves cluster-local hosts on the internal listener only', async () => {
    expect((await get(external, 'nobody.default.example.com')).status).toBe(404);
    expect((await get(internal, 'nobody.default.example.com')).status).toBe(404);
    expect((await get(external, LOCAL_HOST)).status).toBe(404);
    expect(revisionOf((await get(internal, LOCAL_HOST)).text)).toBe('hello-00001');
    expect(revisionOf((await get(internal, 'hello.default')).text)).toBe('hello-00001');
    expect(revisionOf((await get(internal, HOST)).text)).toBe('hello-00001');
  });

  it('answers 503 while a split backend is unknown', async () => {
    expect((await get(external, 'orphan.default.example.com')).status).toBe(503);
  });

  it("answers Knative's ingress probe itself with the Ingress's hash", async () => {
    const answer = await get(external, HOST, '/healthz', { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'override' });
    expect(answer.status).toBe(200);
    expect(answer.headers['k-network-hash']).toBe(ingressHash(helloIngress));
  });

  it('forwards a probe carrying any other hash to the backend, headers intact, for it to echo', async () => {
    // KIngress conformance's "request overrides hash": upstream's backends (probe.NewHandler) echo it.
    const hash = '2701a1b241db6af811992c57a5e11171847148ac3d2e1a8cc992a62f9e4fa111';
    const answer = await get(external, HOST, '/', { 'K-Network-Probe': 'probe', 'K-Network-Hash': hash });
    expect(answer.status).toBe(200);
    const echo = JSON.parse(answer.text) as Echo;
    expect(echo.headers).toMatchObject({
      'k-network-probe': 'probe',
      'k-network-hash': hash,
      'knative-serving-revision': 'hello-00001',
    });
  });

  it('retries a refused connection on another endpoint, so no request fails', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, () => get(external, 'flaky.default.example.com')));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
  });

  it('refuses oversized headers with 431', async () => {
    const answer = await get(external, HOST, '/', { 'X-Big': 'a'.repeat(64 * 1024) }).catch(() => undefined);
    // Node answers 431 and closes; a client may see the answer or only the closed socket.
    const socket = await openSocket(gateway.externalPort);
    socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    const raw = await readUntil(socket, (text) => text.includes('\r\n\r\n'));
    socket.destroy();
    expect(raw.text.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(answer === undefined || answer.status === 431).toBe(true);
  });

  it('refuses bodies over the limit with 413, by Content-Length or while streaming', async () => {
    const small = await external.request({
      path: '/',
      method: 'POST',
      headers: { host: HOST },
      body: Buffer.alloc(1000),
    });
    expect(small.statusCode).toBe(200);
    expect(((await small.body.json()) as Echo).bodyLength).toBe(1000);
    const sized = await external.request({
      path: '/',
      method: 'POST',
      headers: { host: HOST },
      body: Buffer.alloc(2048),
    });
    expect(sized.statusCode).toBe(413);
    await sized.body.dump();
    const socket = await openSocket(gateway.externalPort);
    socket.write(`POST / HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = 'a'.repeat(600);
    for (let i = 0; i < 3; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const raw = await readUntil(socket, (text) => text.includes('\r\n\r\n'));
    socket.destroy();
    expect(raw.text.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
  });

  it('cuts off a client that sends its headers too slowly, and keeps serving others', async () => {
    const socket = await openSocket(gateway.externalPort);
    socket.on('error', () => {});
    socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n`);
    let writes = 0;
    // A header line every 50ms: always sending, never finishing. Bounded at 200 lines.
    const trickle = setInterval(() => {
      if (socket.destroyed || ++writes > 200) clearInterval(trickle);
      else socket.write(`X-Slow-${writes}: 1\r\n`);
    }, 50);
    const raw = await readUntil(socket, () => false);
    clearInterval(trickle);
    expect(raw.closed).toBe(true);
    expect(raw.text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(writes).toBeLessThan(200);
    expect((await get(external, HOST)).status).toBe(200);
  });

  it('forwards a websocket upgrade to the revision and splices the bytes both ways', async () => {
    const socket = await openSocket(gateway.externalPort);
    socket.write(
      `GET /chat HTTP/1.1\r\nHost: ${TAG_HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    const handshake = await readUntil(socket, (text) => text.includes('\r\n\r\n'));
    expect(handshake.text.split('\r\n')[0]).toMatch(/^HTTP\/1.1 101 /);
    expect(handshake.text.toLowerCase()).toContain(`x-app-host: ${TAG_HOST}`);
    expect(handshake.text.toLowerCase()).toContain('x-app-path: /chat');
    socket.write('ping-through-gateway');
    const echoed = await readUntil(socket, (text) => text.includes('ping-through-gateway'));
    expect(echoed.text).toContain('ping-through-gateway');
    socket.destroy();
  });

  it('accepts h2c from clients and speaks the upstream protocol the backend declares', async () => {
    const toHttp1 = await h2Get(gateway.externalPort, HOST);
    expect(toHttp1.status).toBe(200);
    expect(JSON.parse(toHttp1.text)).toMatchObject({
      httpVersion: '1.1',
      headers: { 'knative-serving-revision': 'hello-00001', host: HOST },
    });
    const toH2c = await h2Get(gateway.externalPort, 'grpc.default.example.com');
    expect(toH2c.status).toBe(200);
    expect(JSON.parse(toH2c.text)).toMatchObject({
      httpVersion: '2.0',
      headers: { 'knative-serving-revision': 'grpc-00001' },
    });
    const http1ToH2c = await get(external, 'grpc.default.example.com');
    expect(JSON.parse(http1ToH2c.text)).toMatchObject({ httpVersion: '2.0' });
  });

  it('passes a gRPC call through over h2c, TE: trailers in and the grpc-status trailer out', async () => {
    const session = http2Connect(`http://127.0.0.1:${gateway.externalPort}`);
    const result = await new Promise<{ status: number; trailers: Record<string, unknown>; body: number }>(
      (resolve, reject) => {
        session.once('error', reject);
        const stream = session.request({
          ':method': 'POST',
          ':path': '/helloworld.Greeter/SayHello',
          ':authority': 'trailers.default.example.com',
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        let status = 0;
        let trailers: Record<string, unknown> = {};
        let body = 0;
        stream.on('response', (headers) => {
          status = Number(headers[':status']);
        });
        stream.on('trailers', (received) => {
          trailers = received;
        });
        stream.on('data', (chunk: Buffer) => {
          body += chunk.length;
        });
        stream.on('end', () => resolve({ status, trailers, body }));
        stream.on('error', reject);
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      },
    );
    session.close();
    expect(result).toEqual({
      status: 200,
      body: 5,
      trailers: expect.objectContaining({ 'grpc-status': '0', 'grpc-message': 'revision=trailers-00001;te=trailers' }),
    });
  });

  it('writes structured access logs and per-revision metrics', async () => {
    await get(external, HOST, '/logged');
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.adminPort}/metrics`)).text();
    expect(metrics).toMatch(
      /http_server_request_duration_seconds_count\{k8s_namespace_name="default",kn_route_name="hello",kn_revision_name="hello-00001",http_response_status_code="200"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(/http_server_request_duration_seconds_bucket\{[^}]*kn_revision_name="hello-00001"/);
    expect(
      gateway.lines.some(
        (line) =>
          line.log === 'access' && line.path === '/logged' && line.status === 200 && line.revision === 'hello-00001',
      ),
    ).toBe(true);
    expect((await fetch(`http://127.0.0.1:${gateway.adminPort}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${gateway.adminPort}/healthz`)).status).toBe(200);
  });
});
