// Clients that misbehave on purpose, byte by byte, to check that a server bounds every phase of a
// connection: a request line or headers that never finish (slowloris), an HTTP/2 session that
// never opens a stream or never finishes its HEADERS block, a websocket that never gets its 101.
import { connect as connectTcp, type Socket } from 'node:net';

export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FLAG_END_STREAM = 0x1;

/** One HTTP/2 frame (RFC 9113 §4.1). */
function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** The client's preface and an empty SETTINGS frame: a session that then sends nothing more is idle. */
export const HTTP2_SESSION_START = Buffer.concat([HTTP2_PREFACE, frame(FRAME_SETTINGS, 0, 0, Buffer.alloc(0))]);

/**
 * HEADERS for GET / on stream 1 (HPACK static indexes :method GET, :scheme http, :path /)
 * without END_HEADERS: the server must wait for a CONTINUATION frame that never comes.
 */
export const HALF_SENT_HEADERS = frame(FRAME_HEADERS, FLAG_END_STREAM, 1, Buffer.from([0x82, 0x86, 0x84]));

export function connectRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: '127.0.0.1', port }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export interface Ending {
  /** Whether the server closed the connection before the wait was over. */
  closed: boolean;
  /** What the server sent meanwhile (latin1). */
  received: string;
}

/**
 * Resolves once the server closes the socket, or after `withinMs` (the socket is then
 * destroyed); meanwhile `drip`, if given, is called every `dripEveryMs` while the socket is open.
 */
export function waitForClose(
  socket: Socket,
  withinMs: number,
  drip?: { everyMs: number; write: (socket: Socket) => void },
): Promise<Ending> {
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    // A server that resets the connection has closed it too.
    socket.on('error', () => {});
    const ticker =
      drip === undefined
        ? undefined
        : setInterval(() => {
            if (!socket.destroyed && socket.writable) drip.write(socket);
          }, drip.everyMs);
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      clearInterval(ticker);
      socket.destroy();
      resolve({ closed, received });
    };
    const timer = setTimeout(() => finish(false), withinMs);
    socket.once('close', () => finish(true));
  });
}

/** The request head of a websocket upgrade, without a Sec-WebSocket-Key (the sample app does not check it). */
export function upgradeRequest(path: string, headers: Record<string, string>): string {
  let text = `GET ${path} HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

/** Resolves with what the server sent once it sent `until`, or rejects after `withinMs`. */
export function readUntil(socket: Socket, until: string, withinMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!received.includes(until)) return;
      done();
      resolve(received);
    };
    const onClose = () => {
      done();
      reject(new Error(`closed before ${JSON.stringify(until)}; got ${JSON.stringify(received)}`));
    };
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${JSON.stringify(until)} within ${withinMs}ms; got ${JSON.stringify(received)}`));
    }, withinMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
