// HTTP/1.x spoken byte by byte, for requests no HTTP client will send: absolute-form targets, two
// Host headers, HTTP/0.9. The answer is what arrived before the server closed the connection (or
// before `idleMs` passed without a byte), so it may hold more than one response.
import { connect } from 'node:net';

export interface RawAnswer {
  /** Every byte the server sent, as latin1 text. */
  text: string;
  /** The status codes of the response heads in `text`, in order. */
  statuses: number[];
  /** True when the server closed the connection; false when `idleMs` passed first. */
  closed: boolean;
}

export function rawRequest(port: number, bytes: string, idleMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ text, statuses, closed });
    };
    socket.setTimeout(idleMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      closed = true;
    });
    socket.on('close', done);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
    socket.write(bytes, 'latin1');
  });
}

/** The JSON body of the last response in an answer (the sample app's echo). */
export function lastJsonBody<T>(answer: RawAnswer): T {
  const body = answer.text.slice(answer.text.lastIndexOf('\r\n\r\n') + 4);
  return JSON.parse(body) as T;
}
