// A WebSocket echo server, for a cluster without a registry (as Knative's websocket sample):
// every text or binary message comes back unchanged, pings get pongs, a close is answered with a
// close. A plain GET answers 200 so probes and curl see a live app.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';

const port = Number(process.env.PORT ?? 8080);
// RFC 6455 §1.3: the accept key is SHA-1 of the client's key and this fixed GUID.
const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;
/** Bigger messages are refused (close 1009) instead of buffered without bound. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** An unmasked frame, as servers send them. */
function frame(fin: boolean, opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (length < 126) header[1] = length;
  else if (length < 65_536) {
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  size: number;
}

/** The first whole frame in buffer, unmasked; undefined until all its bytes are in. */
function parseFrame(buffer: Buffer): Frame | 'too big' | undefined {
  if (buffer.length < 2) return undefined;
  const masked = (buffer[1]! & 0x80) !== 0;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    const long = buffer.readBigUInt64BE(2);
    if (long > BigInt(MAX_FRAME_BYTES)) return 'too big';
    length = Number(long);
    offset = 10;
  }
  if (length > MAX_FRAME_BYTES) return 'too big';
  const mask = masked ? buffer.subarray(offset, offset + 4) : undefined;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return undefined;
  const payload = Buffer.from(buffer.subarray(offset, offset + length));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return { fin: (buffer[0]! & 0x80) !== 0, opcode: buffer[0]! & 0x0f, payload, size: offset + length };
}

function echo(socket: Duplex, head: Buffer): void {
  let pending = head;
  const onData = (chunk: Buffer) => {
    pending = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      const next = parseFrame(pending);
      if (next === undefined) return;
      if (next === 'too big') {
        const status = Buffer.alloc(2);
        status.writeUInt16BE(1009);
        socket.end(frame(true, OPCODE.close, status));
        return;
      }
      pending = pending.subarray(next.size);
      if (next.opcode === OPCODE.close) {
        socket.end(frame(true, OPCODE.close, next.payload.subarray(0, 2)));
        return;
      }
      if (next.opcode === OPCODE.ping) socket.write(frame(true, OPCODE.pong, next.payload));
      else if (next.opcode !== OPCODE.pong) socket.write(frame(next.fin, next.opcode, next.payload));
    }
  };
  socket.on('data', onData).on('error', () => socket.destroy());
  if (head.length > 0) onData(Buffer.alloc(0));
}

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('websocket echo: connect with Upgrade: websocket\n');
});
server.on('upgrade', (req, socket, head) => {
  const key = req.headers['sec-websocket-key'];
  if (req.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string') {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  const accept = createHash('sha1')
    .update(key + HANDSHAKE_GUID)
    .digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
  );
  echo(socket, head);
});
server.listen(port, () => console.log(JSON.stringify({ msg: 'websocket echo listening', port })));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
