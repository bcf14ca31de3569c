// A connector for undici's pools that skips an unsolicited 100 (Continue) from the upstream.
// RFC 9110 §15.2 asks a client to parse 1xx responses it did not expect and lets it ignore them;
// undici instead destroys the connection ("bad response"), since it never sends Expect, and the
// request fails with 502. The proxies drop Expect (Node has answered it to the client already),
// so every 100 an upstream sends is unsolicited and is skipped here, before undici's parser sees
// it. undici's other interim responses (103) reach the dispatch handler as they should.
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

/** The head undici writes for each request, as one latin1 string: `METHOD target HTTP/1.1\r\n…`. */
const REQUEST_HEAD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/1\.1\r\n/;
// "HTTP/1.x 100" and a space or the line end.
const CONTINUE_LENGTH = 13;
const isContinue = (data: Buffer): boolean =>
  /^HTTP\/1\.[01] 100[ \r]$/.test(data.toString('latin1', 0, CONTINUE_LENGTH));
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Wraps the socket's read(), which undici's HTTP/1.1 parser pulls from, so that the 100 heads at
 * the start of a response are dropped. A response can only start after a request head was
 * written (undici does not pipeline unless told to), so only those bytes are looked at.
 */
function skipUnsolicitedContinue(socket: Socket): void {
  let awaitingResponse = false;
  let held: Buffer | undefined;
  const write = socket.write;
  socket.write = function (this: Socket, chunk: unknown, ...rest: unknown[]): boolean {
    if (typeof chunk === 'string' && REQUEST_HEAD.test(chunk)) awaitingResponse = true;
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Socket['write'];
  const read = socket.read;
  socket.read = function (this: Socket, size?: number): Buffer | null {
    // Bounded by the socket's buffer: each turn consumes a chunk it has read.
    for (;;) {
      const chunk = read.call(this, size) as Buffer | null;
      if (!awaitingResponse && held === undefined) return chunk;
      if (chunk === null) return null;
      let data = held === undefined ? chunk : Buffer.concat([held, chunk]);
      held = undefined;
      while (awaitingResponse && data.length > 0) {
        // Every complete response head is longer, so more bytes must come.
        if (data.length < CONTINUE_LENGTH) {
          held = data;
          data = Buffer.alloc(0);
          break;
        }
        if (!isContinue(data)) {
          awaitingResponse = false;
          break;
        }
        const end = data.indexOf(HEAD_END);
        if (end === -1) {
          held = data;
          data = Buffer.alloc(0);
          break;
        }
        data = data.subarray(end + HEAD_END.length);
      }
      if (data.length > 0) return data;
    }
  } as Socket['read'];
}

/** undici's own connector, with unsolicited 100s skipped on every connection it makes. */
export function connectorSkippingContinue(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options);
  return (connectOptions, callback) =>
    connect(connectOptions, (error, socket) => {
      if (error === null) {
        skipUnsolicitedContinue(socket as Socket);
        callback(null, socket);
      } else {
        callback(error, null);
      }
    });
}
