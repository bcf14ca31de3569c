// The activator's announce port (lib/hop.ts ANNOUNCE_PATH): where queue-proxy says its pod's user
// container has answered its readiness probe. Every client is taken to be hostile: the pod's
// address is the connection's source, never anything the client says; the revision must be the
// one the token was made for (lib/announce.ts); and every phase of a connection is bounded. Errors
// are a status and a word, nothing more.
//
//   POST /announce  {"namespace":"ns","revision":"hello-00001","token":"<64 hex digits>"}
//   202 accepted · 200 known (already a pod of the revision) · 400 malformed · 403 forbidden (wrong
//   token) · 404 unknown revision · 413 too large · 503 unavailable (no key yet, or too many pods
//   waiting)
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from '../lib/http/builtins.ts';
import type { AddressInfo } from 'node:net';
import { announceTokenMatches } from '../lib/announce.ts';
import { ANNOUNCE_PATH, type AnnounceBody } from '../lib/hop.ts';
import { readBody } from '../lib/http/body.ts';
import type { Logger } from '../lib/log.ts';
import { revisionKey, type RevisionKey } from './backends.ts';
import type { AnnounceOutcome } from './announced.ts';

/** Far above the three short strings of an announce. */
export const MAX_ANNOUNCE_BYTES = 1024;
/** queue-proxy sends its one request at once; anything slower is not queue-proxy. */
const ANNOUNCE_TIMEOUT_MS = 2000;
/** How often node checks the request timeouts; its default, 30 s, would let a slow client linger. */
const TIMEOUT_CHECK_MS = 500;
const MAX_HEADER_BYTES = 4096;
const MAX_CONNECTIONS = 1024;
/** Kubernetes names: a namespace is a DNS label, a revision a DNS subdomain; a token is 64 hex digits. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const REVISION = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TOKEN = /^[0-9a-f]{64}$/;

export interface AnnounceServerOptions {
  announce(key: RevisionKey, ip: string): AnnounceOutcome;
  /** The announce key; undefined until it has been read. */
  key(): Buffer | undefined;
  log: Logger;
}

/** The announce body if it is one, else undefined. */
export function parseAnnounce(text: string): AnnounceBody | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { namespace, revision, token } = value as Record<string, unknown>;
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) return undefined;
  if (typeof revision !== 'string' || !REVISION.test(revision)) return undefined;
  if (typeof token !== 'string' || !TOKEN.test(token)) return undefined;
  return { namespace, revision, token };
}

/** The peer's IP as the Endpoints would write it: an IPv4 address mapped into IPv6 unmapped. */
export function peerIp(remoteAddress: string): string {
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}

const OUTCOME_STATUS: Record<AnnounceOutcome, [number, string]> = {
  accepted: [202, 'accepted'],
  known: [200, 'known'],
  'unknown-revision': [404, 'unknown revision'],
  full: [503, 'unavailable'],
};

export function createAnnounceServer(options: AnnounceServerOptions): Server {
  const { log } = options;
  const server = http.createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: ANNOUNCE_TIMEOUT_MS,
      requestTimeout: ANNOUNCE_TIMEOUT_MS,
      keepAliveTimeout: ANNOUNCE_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    },
    (req, res) => handle(req, res, options, log),
  );
  server.maxConnections = MAX_CONNECTIONS;
  server.maxRequestsPerSocket = 1;
  return server;
}

function handle(req: IncomingMessage, res: ServerResponse, options: AnnounceServerOptions, log: Logger): void {
  if (req.method !== 'POST' || req.url !== ANNOUNCE_PATH) {
    answer(res, 404, 'not found');
    return;
  }
  const length = Number(req.headers['content-length'] ?? 0);
  if (!(length <= MAX_ANNOUNCE_BYTES)) {
    answer(res, 413, 'too large');
    return;
  }
  readBody(req, MAX_ANNOUNCE_BYTES).then(
    (text) => {
      const body = parseAnnounce(text);
      if (body === undefined) return answer(res, 400, 'malformed');
      const key = options.key();
      if (key === undefined) return answer(res, 503, 'unavailable');
      if (!announceTokenMatches(key, body.namespace, body.revision, body.token)) {
        log.debug('refused an announce with a wrong token', { revision: `${body.namespace}/${body.revision}` });
        return answer(res, 403, 'forbidden');
      }
      const ip = peerIp(req.socket.remoteAddress ?? '');
      const revision = revisionKey(body.namespace, body.revision);
      const outcome = options.announce(revision, ip);
      if (outcome !== 'accepted') log.debug('announce not taken', { revision, ip, outcome });
      const [status, word] = OUTCOME_STATUS[outcome];
      answer(res, status, word);
    },
    () => answer(res, 413, 'too large'),
  );
}

function answer(res: ServerResponse, status: number, word: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': word.length, connection: 'close' });
  res.end(word);
}

export async function listenAnnounceServer(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
