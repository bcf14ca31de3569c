// queue-proxy's dispatcher against an upstream that closes a kept-alive connection just as it is
// reused, as an app's keepAliveTimeout does under load: a replayable request is sent again on
// another connection, anything else fails as before. The upstream is a raw TCP server, so when it
// drops a connection is up to the test.
import { createServer, type Server, type Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeDispatcher } from '../../../lib/http/nodeDispatcher.ts';

interface Outcome {
  status?: number;
  body: string;
  error?: string;
}

/** Answers the first request on each connection and drops the connection at the second one. */
function startFlakyUpstream(): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((socket: Socket) => {
    let served = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        requests.push(head.split('\r\n')[0]!);
        if (++served > 1) {
          socket.destroy();
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
      }
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port, requests }),
    ),
  );
}

function send(dispatcher: NodeDispatcher, method: string, headers: string[] = [], body?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { body: '' };
    const handler: Dispatcher.DispatchHandler = {
      onResponseStart: (_controller, statusCode) => {
        outcome.status = statusCode;
      },
      onResponseData: (_controller, chunk) => {
        outcome.body += chunk.toString();
      },
      onResponseEnd: () => resolve(outcome),
      onResponseError: (_controller, error) =>
        resolve({ ...outcome, error: (error as NodeJS.ErrnoException).code ?? error.message }),
    };
    const { Readable } = process.getBuiltinModule('node:stream');
    dispatcher.dispatch(
      {
        method,
        path: '/',
        headers: [...headers],
        body: body === undefined ? null : Readable.from([body]),
      } as Dispatcher.DispatchOptions,
      handler,
    );
  });
}

describe('NodeDispatcher on a connection the upstream closes as it is reused', () => {
  let upstream: Awaited<ReturnType<typeof startFlakyUpstream>>;

  beforeAll(async () => {
    upstream = await startFlakyUpstream();
  });
  afterAll(() => new Promise<void>((resolve) => upstream.server.close(() => resolve())));

  // One connection at most, so the second request always reuses the first one's connection.
  const reused = async (method: string, headers: string[] = [], body?: string) => {
    const dispatcher = new NodeDispatcher('127.0.0.1', upstream.port, 1);
    try {
      expect(await send(dispatcher, 'GET')).toEqual({ status: 200, body: 'ok' });
      upstream.requests.length = 0;
      return await send(dispatcher, method, headers, body);
    } finally {
      dispatcher.destroy();
    }
  };

  it('sends a GET again on a new connection, once', async () => {
    expect(await reused('GET')).toEqual({ status: 200, body: 'ok' });
    expect(upstream.requests).toEqual(['GET / HTTP/1.1', 'GET / HTTP/1.1']);
  });

  it('sends a POST without a body again when it carries an idempotency key', async () => {
    expect(await reused('POST', ['content-length', '0', 'idempotency-key', 'k-1'])).toEqual({
      status: 200,
      body: 'ok',
    });
    expect(upstream.requests).toEqual(['POST / HTTP/1.1', 'POST / HTTP/1.1']);
  });

  it('fails a POST without an idempotency key, and one with a body, without sending them again', async () => {
    expect(await reused('POST', ['content-length', '0'])).toMatchObject({ error: 'ECONNRESET' });
    expect(upstream.requests).toEqual(['POST / HTTP/1.1']);
    expect(await reused('POST', ['content-length', '7', 'idempotency-key', 'k-2'], 'payload')).toMatchObject({
      error: 'ECONNRESET',
    });
    expect(upstream.requests).toEqual(['POST / HTTP/1.1']);
  });
});
