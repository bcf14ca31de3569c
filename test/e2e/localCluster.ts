// The harness of the e2e files: a cluster of its own per file (`pilotlight up --local` into a
// fresh state directory), the real kubectl against it, and requests through the gateway that
// `up` publishes on 127.0.0.1.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { type Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBinaries } from '../../cli/cluster/binaries.ts';

export const run = promisify(execFile);
export const repo = join(import.meta.dirname, '..', '..');
export const GATEWAY = { host: '127.0.0.1', port: 31080 };

export interface Output {
  stdout: string;
  stderr: string;
}

export interface LocalCluster {
  stateDir: string;
  kubeconfig: string;
  /** `pilotlight <args> --state-dir <this cluster's>`; rejects on a non-zero exit. */
  pilotlight(...args: string[]): Promise<Output>;
  /** The real kubectl against this cluster; rejects on a non-zero exit. */
  kubectl(args: string[], input?: string): Promise<Output>;
  /** down, then forget the state directory; never throws, so it fits afterAll. */
  dispose(): Promise<void>;
}

/**
 * A cluster of the file's own, in a fresh state directory, taken down afterwards. With
 * PILOTLIGHT_E2E_STATE_DIR set, the cluster of that state directory instead (say the one a
 * developer keeps up, shared with others), which `dispose` leaves running.
 */
export async function localCluster(prefix: string): Promise<LocalCluster> {
  const shared = process.env.PILOTLIGHT_E2E_STATE_DIR;
  const stateDir = shared ?? mkdtempSync(join(tmpdir(), `${prefix}-`));
  const kubeconfig = join(stateDir, 'kubeconfig');
  const kubectlBinary = join(await ensureBinaries(['kubectl']), 'kubectl');
  const pilotlight = (...args: string[]): Promise<Output> =>
    run(process.execPath, [join(repo, 'cli', 'main.ts'), ...args, '--state-dir', stateDir], {
      timeout: 1_800_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  return {
    stateDir,
    kubeconfig,
    pilotlight,
    kubectl(args, input) {
      const child = run(kubectlBinary, args, {
        env: { ...process.env, KUBECONFIG: kubeconfig },
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      child.child.stdin?.end(input ?? '');
      return child;
    },
    async dispose() {
      if (shared) return;
      await pilotlight('down').catch(() => {});
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface GatewayResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET through the gateway for a Host (fetch may not set Host), with a deadline. */
export function viaGateway(host: string, path = '/', agent?: Agent): Promise<GatewayResponse> {
  return new Promise((resolve, reject) => {
    request({ ...GATEWAY, path, headers: { host }, agent, timeout: 60_000 }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => {
          body += c;
        })
        .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('timeout', function (this: { destroy(error: Error): void }) {
        this.destroy(new Error(`no answer for ${host}${path} within 60 s`));
      })
      .on('error', reject)
      .end();
  });
}

/** A client frame (RFC 6455 §5.3: clients mask every frame). Payloads here stay under 64 KiB. */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const length =
    payload.length < 126
      ? Buffer.from([0x80 | payload.length])
      : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i % 4]!;
  return Buffer.concat([Buffer.from([0x80 | opcode]), length, mask, masked]);
}

/** The opcode and payload of the first whole unmasked server frame, or undefined until it is in. */
function serverFrame(buffer: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  }
  if (buffer.length < offset + length) return undefined;
  return { opcode: buffer[0]! & 0x0f, payload: buffer.subarray(offset, offset + length), size: offset + length };
}

/**
 * Opens a WebSocket through the gateway for host, sends each message as a text frame, and
 * returns the text frames that came back (one per message sent), then closes.
 */
export function websocketExchange(
  host: string,
  messages: string[],
): Promise<{ accept: string | undefined; expectedAccept: string; replies: string[] }> {
  const key = randomBytes(16).toString('base64');
  const expectedAccept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  return new Promise((resolve, reject) => {
    const req = request({
      ...GATEWAY,
      path: '/',
      timeout: 60_000,
      headers: {
        host,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': key,
      },
    });
    req.on('response', (res) => reject(new Error(`expected 101 Switching Protocols, got ${res.statusCode}`)));
    req.on('timeout', () => req.destroy(new Error('no upgrade within 60 s')));
    req.on('error', reject);
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const replies: string[] = [];
      let pending = head;
      const deadline = setTimeout(
        () => socket.destroy(new Error(`only ${replies.length} of ${messages.length} echoes within 30 s`)),
        30_000,
      );
      socket.on('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      const drain = () => {
        for (let next = serverFrame(pending); next; next = serverFrame(pending)) {
          pending = pending.subarray(next.size);
          if (next.opcode === 0x1) replies.push(next.payload.toString('utf8'));
        }
        if (replies.length >= messages.length) {
          clearTimeout(deadline);
          socket.end(maskedFrame(0x8, Buffer.from([0x03, 0xe8])));
          resolve({ accept: res.headers['sec-websocket-accept'] as string | undefined, expectedAccept, replies });
        }
      };
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        drain();
      });
      for (const message of messages) socket.write(maskedFrame(0x1, Buffer.from(message, 'utf8')));
      drain();
    });
    req.end();
  });
}
