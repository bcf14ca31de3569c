// A PodSource driven over HTTP, for tests, benchmarks and running without Kubernetes. The
// admin endpoint (bind it to loopback) takes:
//   PUT    /revisions/<namespace>/<name>  {"containerConcurrency": 0, "timeoutSeconds": 300, "pods": ["127.0.0.1:8012"]}
//          creates or replaces the revision; pods are queue-proxy serving addresses, ready or not
//          (each is probed before it gets traffic); timeoutSeconds is optional (default 300), and
//          so are responseStartTimeoutSeconds and idleTimeoutSeconds (default off);
//          optional "reserved": {"containerConcurrency": 1, "pods": ["127.0.0.1:8112"]} describes
//          the revision's reserved burstable instance (containerConcurrency 1 or more); optional
//          "notReady": ["127.0.0.1:8012"] names pods whose endpoint is not ready, as Kubernetes'
//          notReadyAddresses would; optional "announcePort": 8012 lets the revision's pods announce
//          themselves (see announced.ts), reached at that port of the announcing address
//   DELETE /revisions/<namespace>/<name>  forgets the revision
//   GET    /revisions                     the current state, keyed by namespace/name
// Answers 204 on changes, 400 with a message for a malformed body, 404 for other paths.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from '../lib/http/builtins.ts';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_TIMEOUT_MS,
  revisionKey,
  type PodSource,
  type PodSourceListener,
  type RevisionBackends,
  type RevisionKey,
} from './backends.ts';

const MAX_BODY_BYTES = 1 << 20;
const REVISION_PATH = /^\/revisions\/([^/]+)\/([^/]+)$/;

export class StaticPodSource implements PodSource {
  #server: Server;
  #port: number;
  #host: string;
  #listener: PodSourceListener | undefined;
  #revisions = new Map<RevisionKey, RevisionBackends>();

  constructor(port: number, host: string) {
    this.#port = port;
    this.#host = host;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  /** The bound admin port, once started. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  start(listener: PodSourceListener): Promise<void> {
    this.#listener = listener;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, this.#host, () => resolve());
    });
  }

  stop(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url?.split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/revisions') {
      const body = JSON.stringify(Object.fromEntries(this.#revisions));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const match = REVISION_PATH.exec(path);
    if (match === null || (req.method !== 'PUT' && req.method !== 'DELETE')) {
      res.writeHead(404).end();
      return;
    }
    const key = revisionKey(decodeURIComponent(match[1]!), decodeURIComponent(match[2]!));
    if (req.method === 'DELETE') {
      this.#revisions.delete(key);
      this.#listener?.revisionChanged(key, undefined);
      res.writeHead(204).end();
      return;
    }
    readBody(req)
      .then((text) => {
        const backends = parseBackends(text);
        this.#revisions.set(key, backends);
        this.#listener?.revisionChanged(key, backends);
        res.writeHead(204).end();
      })
      .catch((error: Error) => {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(error.message);
      });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy(new Error(`body larger than ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function parseBackends(text: string): RevisionBackends {
  const value = JSON.parse(text) as {
    containerConcurrency?: unknown;
    timeoutSeconds?: unknown;
    responseStartTimeoutSeconds?: unknown;
    idleTimeoutSeconds?: unknown;
    pods?: unknown;
    reserved?: unknown;
    notReady?: unknown;
    announcePort?: unknown;
  };
  const cc = value.containerConcurrency;
  if (typeof cc !== 'number' || !Number.isInteger(cc) || cc < 0)
    throw new Error('containerConcurrency: must be an integer ≥ 0');
  const timeout = value.timeoutSeconds ?? DEFAULT_TIMEOUT_MS / 1000;
  if (typeof timeout !== 'number' || !(timeout > 0)) throw new Error('timeoutSeconds: must be a number > 0');
  const responseStartTimeoutMs = optionalMs('responseStartTimeoutSeconds', value.responseStartTimeoutSeconds);
  const idleTimeoutMs = optionalMs('idleTimeoutSeconds', value.idleTimeoutSeconds);
  const timeouts = {
    timeoutMs: timeout * 1000,
    ...(responseStartTimeoutMs === undefined ? {} : { responseStartTimeoutMs }),
    ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
  };
  const pods = parsePods('pods', value.pods);
  const notReady = value.notReady === undefined ? {} : { notReady: parsePods('notReady', value.notReady) };
  const port = value.announcePort;
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535))
    throw new Error('announcePort: must be a port number from 1 to 65535');
  const announce = port === undefined ? {} : { announcePort: port };
  if (value.reserved === undefined) return { containerConcurrency: cc, ...timeouts, pods, ...notReady, ...announce };
  const reserved = value.reserved as { containerConcurrency?: unknown; pods?: unknown } | null;
  const reservedCc = reserved?.containerConcurrency;
  if (typeof reservedCc !== 'number' || !Number.isInteger(reservedCc) || reservedCc < 1) {
    throw new Error('reserved.containerConcurrency: must be an integer ≥ 1');
  }
  return {
    containerConcurrency: cc,
    ...timeouts,
    pods,
    ...notReady,
    ...announce,
    reserved: { containerConcurrency: reservedCc, pods: parsePods('reserved.pods', reserved?.pods) },
  };
}

function optionalMs(field: string, seconds: unknown): number | undefined {
  if (seconds === undefined) return undefined;
  if (typeof seconds !== 'number' || !(seconds > 0)) throw new Error(`${field}: must be a number > 0`);
  return seconds * 1000;
}

function parsePods(field: string, pods: unknown): string[] {
  if (!Array.isArray(pods) || !pods.every((pod) => typeof pod === 'string' && /^[^:\s]+:\d+$/.test(pod))) {
    throw new Error(`${field}: must be a list of "host:port" strings`);
  }
  return pods as string[];
}
