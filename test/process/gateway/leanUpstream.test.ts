// The gateway's lean HTTP/1.1 upstream against real sockets: what it forwards itself, what it
// hands to the fallback, and the connection failures the gateway's retries and ejection rely on.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../../lib/clock.ts';
import { freePort } from '../../../harness/processes.ts';
import { LeanHttp1Dispatcher } from '../../../gateway/leanUpstream.ts';
import { neverConnected } from '../../../lib/http/proxy.ts';

interface Outcome {
  interim: number[];
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body: string;
  trailers?: Record<string, string | string[] | undefined>;
  error?: Error;
}

/** Runs one request to its end through `dispatcher`, recording what the handler heard. */
function exchange(dispatcher: LeanHttp1Dispatcher, options: Partial<Dispatcher.DispatchOptions>): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { interim: [], body: '' };
    dispatcher.dispatch({ path: '/', method: 'GET', headers: [], ...options } as Dispatcher.DispatchOptions, {
      onResponseStart(_controller, status, headers) {
        if (status < 200) outcome.interim.push(status);
        else Object.assign(outcome, { status, headers });
      },
      onResponseData(_controller, chunk) {
        outcome.body += chunk.toString();
      },
      onResponseEnd(_controller, trailers) {
        resolve({ ...outcome, trailers });
      },
      onResponseError(_controller, error) {
        resolve({ ...outcome, error });
      },
    });
  });
}

const listening = <T extends Server | NetServer>(server: T): Promise<T> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
const portOf = (server: Server | NetServer) => (server.address() as AddressInfo).port;

function lean(port: number, fallback: () => Dispatcher = () => ({}) as Dispatcher): LeanHttp1Dispatcher {
  return new LeanHttp1Dispatcher({
    host: '127.0.0.1',
    port,
    connectTimeoutMs: 2000,
    keepAliveTimeoutMs: 30_000,
    clock: realClock,
    fallback,
  });
}

describe('lean HTTP/1.1 upstream', () => {
  const servers: (Server | NetServer)[] = [];
  const dispatchers: LeanHttp1Dispatcher[] = [];
  const track = (dispatcher: LeanHttp1Dispatcher) => {
    dispatchers.push(dispatcher);
    return dispatcher;
  };
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.destroy()));
    for (const server of servers.splice(0)) {
      (server as Server).closeAllConnections?.();
      server.close();
    }
  });

  it('forwards status, headers, body and trailers, sends HEAD without a body, and keeps one connection alive', async () => {
    let connections = 0;
    const server = await listening(
      createHttpServer((req, res) => {
        if (req.url === '/chunked') {
          res.writeHead(200, { trailer: 'x-checksum' });
          res.write('part one, ');
          res.addTrailers({ 'x-checksum': 'abc' });
          res.end('part two');
          return;
        }
        res.writeHead(201, { 'x-seen-host': String(req.headers.host), 'content-type': 'text/plain' });
        res.end(req.method === 'HEAD' ? undefined : `hello ${req.headers['x-added']}`);
      }),
    );
    server.on('connection', () => connections++);
    servers.push(server);
    const dispatcher = track(lean(portOf(server)));

    const plain = await exchange(dispatcher, { headers: ['x-added', 'yes'] });
    expect(plain).toMatchObject({ status: 201, body: 'hello yes' });
    expect(plain.headers?.['x-seen-host']).toBe(`127.0.0.1:${portOf(server)}`);
    const head = await exchange(dispatcher, { method: 'HEAD' });
    expect(head).toMatchObject({ status: 201, body: '' });
    const chunked = await exchange(dispatcher, { path: '/chunked' });
    expect(chunked).toMatchObject({ status: 200, body: 'part one, part two', trailers: { 'x-checksum': 'abc' } });
    expect(connections).toBe(1);
  });

  it('hands 103 Early Hints on, skips an unsolicited 100 and fails a broken response', async () => {
    const server = await listening(
      createNetServer((socket) =>
        socket.once('data', (request: Buffer) => {
          if (request.toString().startsWith('GET /broken'))
            socket.end('HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n');
          else
            socket.end(
              'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n' +
                'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok',
            );
        }),
      ),
    );
    servers.push(server);
    const dispatcher = track(lean(portOf(server)));
    expect(await exchange(dispatcher, {})).toMatchObject({ interim: [103], status: 200, body: 'ok' });
    const broken = await exchange(dispatcher, { path: '/broken' });
    expect(broken.status).toBeUndefined();
    expect(broken.error).toBeInstanceOf(Error);
  });

  it('replays a GET once when the upstream closes a kept-alive connection as it is reused, but not a POST', async () => {
    const seen: string[] = [];
    // Answers the first request on each connection and drops the connection on the second.
    const server = await listening(
      createNetServer((socket: Socket) => {
        let requests = 0;
        socket.on('data', (request: Buffer) => {
          seen.push(request.toString().split(' ', 1)[0]!);
          if (++requests === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst');
          else socket.destroy();
        });
      }),
    );
    servers.push(server);
    const dispatcher = track(lean(portOf(server)));
    expect(await exchange(dispatcher, {})).toMatchObject({ status: 200, body: 'first' });
    expect(await exchange(dispatcher, {})).toMatchObject({ status: 200, body: 'first' });
    expect(seen).toEqual(['GET', 'GET', 'GET']);
    const post = await exchange(dispatcher, { method: 'POST', headers: ['content-length', '0'] });
    expect(post.error).toBeInstanceOf(Error);
    expect(seen).toEqual(['GET', 'GET', 'GET', 'POST']);
  });

  it('fails the exchange, not the process, when the handler throws on a response', async () => {
    const server = await listening(createHttpServer((_req, res) => res.end('fine')));
    servers.push(server);
    const dispatcher = track(lean(portOf(server)));
    const refusal = new Error('the handler refuses this response');
    const failed = await new Promise<Error>((resolve) => {
      dispatcher.dispatch(
        { path: '/', method: 'GET', headers: [] },
        {
          onResponseStart() {
            throw refusal;
          },
          onResponseError(_controller, error) {
            resolve(error);
          },
        },
      );
    });
    expect(failed).toBe(refusal);
    expect(await exchange(dispatcher, {})).toMatchObject({ status: 200, body: 'fine' });
  });

  it('reports a refused connection with a code the gateway reads as never connected', async () => {
    const dispatcher = track(lean(await freePort()));
    const refused = await exchange(dispatcher, {});
    expect((refused.error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(neverConnected(refused.error!)).toBe(true);
  });

  it('hands requests with a body, upgrades and unsafe header values to the fallback', async () => {
    const handed: string[] = [];
    const fallback = {
      dispatch(options: Dispatcher.DispatchOptions) {
        handed.push(String(options.path));
        return true;
      },
      close: async () => {},
      destroy: async () => {},
    } as unknown as Dispatcher;
    const dispatcher = track(lean(await freePort(), () => fallback));
    const handler = {} as Dispatcher.DispatchHandler;
    dispatcher.dispatch({ path: '/body', method: 'POST', headers: [], body: 'x' }, handler);
    dispatcher.dispatch({ path: '/upgrade', method: 'GET', headers: [], upgrade: 'websocket' }, handler);
    dispatcher.dispatch({ path: '/unsafe', method: 'GET', headers: ['x-added', 'a\r\nx-evil: 1'] }, handler);
    expect(handed).toEqual(['/body', '/upgrade', '/unsafe']);
  });

  it('closes gracefully: an exchange in progress finishes before close() resolves', async () => {
    const server = await listening(
      createHttpServer((_req, res) => {
        setTimeout(() => res.end('late'), 200);
      }),
    );
    servers.push(server);
    const dispatcher = lean(portOf(server));
    const inProgress = exchange(dispatcher, {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    let closed = false;
    const closing = dispatcher.close().then(() => (closed = true));
    const outcome = await inProgress;
    await closing;
    expect(outcome).toMatchObject({ status: 200, body: 'late' });
    expect(closed).toBe(true);
  });
});
