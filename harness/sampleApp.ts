// A user container for process tests and benchmarks: an HTTP server that can sleep or hang per
// request, echoes what it received, counts concurrent requests, and echoes bytes on upgraded
// connections. Configured by environment:
//   PORT            port to listen on (0 picks one); the bound port is printed as {"listening":n}
//   APP_PROTOCOL    "http1" (default) or "h2c" (cleartext HTTP/2 with prior knowledge only)
//   APP_LISTEN_DELAY_MS   wait this long before listening, to play a slow-starting app
//   POD_NAME        when set, every response names it in an x-pod-name header (as the downward API would give it)
//   APP_FAIL_EVERY  when n > 0, every nth request is answered 500 (a revision with an error rate of 1/n)
// Requests: any path; ?sleep=ms delays the answer, ?hang=1 never answers, ?reset=1 closes the
// connection without answering, ?bytes=n sends n bytes, ?stream=ms sends the head and a first
// chunk "first\n" at once and the last chunk "last\n" ms later (with &headonly=1 only the head
// comes first, as Knative's timeout test image does). GET /_stats answers {inFlight,
// maxInFlight, requests, lastProbe}; POST /_stats/reset zeroes the counters. Upgrades are accepted and echo bytes back, except on /no-upgrade, which
// answers 426, and /hang-upgrade, which never answers. Kubelet-style probes (User-Agent kube-probe/…) are recorded as lastProbe
// and answered 200 without counting as requests, or 503 after POST /_probes/fail (an app whose
// readiness fails after startup, as Knative's readiness test image's /start-failing).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

const podName = process.env.POD_NAME;
const failEvery = Number(process.env.APP_FAIL_EVERY ?? 0);

let inFlight = 0;
let maxInFlight = 0;
let requests = 0;
let lastProbe: { path: string | undefined; headers: Request['headers'] } | undefined;
let probesFail = false;

function json(res: Response, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  (res as ServerResponse).writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function handle(req: Request, res: Response): void {
  if (podName !== undefined) (res as ServerResponse).setHeader('x-pod-name', podName);
  const url = new URL(req.url ?? '/', 'http://app');
  if (url.pathname === '/_stats') {
    json(res, 200, { inFlight, maxInFlight, requests, lastProbe });
    return;
  }
  if (req.headers['user-agent']?.startsWith('kube-probe/')) {
    lastProbe = { path: req.url, headers: req.headers };
    json(res, probesFail ? 503 : 200, {});
    return;
  }
  if (url.pathname === '/_probes/fail') {
    probesFail = true;
    json(res, 200, {});
    return;
  }
  if (url.pathname === '/_stats/reset') {
    maxInFlight = inFlight;
    requests = 0;
    json(res, 200, { inFlight, maxInFlight, requests });
    return;
  }
  requests++;
  const number = requests;
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  let done = false;
  const leave = () => {
    if (done) return;
    done = true;
    inFlight--;
  };
  res.once('close', leave);
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  req.on('end', () => {
    if (url.searchParams.get('hang') === '1') return;
    if (url.searchParams.get('reset') === '1') {
      req.socket.destroy();
      return;
    }
    const streamMs = url.searchParams.get('stream');
    if (streamMs !== null) {
      (res as ServerResponse).writeHead(200, { 'content-type': 'text/plain' });
      if (url.searchParams.get('headonly') === '1') (res as ServerResponse).flushHeaders();
      else (res as ServerResponse).write('first\n');
      setTimeout(() => {
        res.end('last\n');
        leave();
      }, Number(streamMs));
      return;
    }
    const answer = () => {
      if (failEvery > 0 && number % failEvery === 0) {
        json(res, 500, { error: 'failing on purpose (APP_FAIL_EVERY)' });
        leave();
        return;
      }
      const bytes = Number(url.searchParams.get('bytes') ?? -1);
      if (bytes >= 0) {
        (res as ServerResponse).writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
        res.end(Buffer.alloc(bytes, 97));
      } else {
        json(res, 200, {
          method: req.method,
          path: req.url,
          httpVersion: req.httpVersion,
          headers: req.headers,
          bodyLength: received,
          inFlight,
          remotePort: req.socket?.remotePort,
        });
      }
      leave();
    };
    const sleep = Number(url.searchParams.get('sleep') ?? 0);
    if (sleep > 0) setTimeout(answer, sleep);
    else answer();
  });
}

const port = Number(process.env.PORT ?? 8080);
const server =
  process.env.APP_PROTOCOL === 'h2c'
    ? createH2Server(handle)
    : createServer({ keepAliveTimeout: 65_000 }, handle).on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
        if (req.url === '/hang-upgrade') return;
        if (req.url === '/no-upgrade') {
          socket.end('HTTP/1.1 426 Upgrade Required\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope');
          return;
        }
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\nx-app-path: ${req.url}\r\nx-app-host: ${req.headers.host}\r\n\r\n`,
        );
        if (head.length > 0) socket.write(head);
        socket.pipe(socket);
      });

setTimeout(
  () => {
    server.listen(port, '127.0.0.1', () => {
      process.stdout.write(`${JSON.stringify({ listening: (server.address() as AddressInfo).port })}\n`);
    });
  },
  Number(process.env.APP_LISTEN_DELAY_MS ?? 0),
);

process.once('SIGTERM', () => {
  server.close();
  process.exit(0);
});
