// Where activators push the load they hold for revisions. Knative uses a websocket carrying
// protobuf; here it is one HTTP POST per report:
//
//   POST /stats   content-type: application/json
//   [{"namespace":"ns","revision":"rev-00001","stat":{"podName":"activator-x",
//     "averageConcurrentRequests":1,"averageProxiedConcurrentRequests":0,
//     "requestCount":1,"proxiedRequestCount":0}}, …]
//
// Answers 202 with {"accepted":n} (stats for revisions this autoscaler does not know are
// dropped, as upstream drops them), 400 on a malformed body. Activators reach any replica through
// the autoscaler Service; only the leader decides, so only it records, and a replica that does not
// lead forwards the body to the leader at the address its Lease names, as upstream's
// statforwarder does (adr/0011). 503 when no leader is known or it cannot be reached.
import { readBody } from '../../lib/http/body.ts';
import type { Server, ServerResponse } from 'node:http';
import { http } from '../../lib/http/builtins.ts';
import { isIP, type AddressInfo } from 'node:net';
import { z } from 'zod';
import { createLogger, type Logger } from '../../lib/log.ts';
import type { Stat } from '../metrics/revisionMetrics.ts';

export const STAT_PATH = '/stats';
const MAX_BODY_BYTES = 1 << 20;
/** Marks a forwarded body, so a replica that is not (or no longer) the leader never forwards it again. */
const FORWARDED_HEADER = 'k-autoscaler-forwarded';
const FORWARD_TIMEOUT_MS = 2000;

const count = z.number().finite().min(0);
const statSchema = z.object({
  podName: z.string().optional(),
  averageConcurrentRequests: count,
  averageProxiedConcurrentRequests: count.default(0),
  requestCount: count.default(0),
  proxiedRequestCount: count.default(0),
});
const bodySchema = z
  .array(
    z.object({
      namespace: z.string().min(1),
      revision: z.string().min(1),
      stat: statSchema,
    }),
  )
  .max(10_000);

export interface StatReceiver {
  /** False when the revision is unknown. */
  push(key: string, stat: Stat): boolean;
}

export interface StatServerOptions {
  receiver: StatReceiver;
  /** Stats are recorded while this says yes; by default always. */
  leading?: () => boolean;
  /** Where a replica that does not lead forwards stats: the leader's endpoint, when one is known. */
  leaderUrl?: () => string | undefined;
  log?: Logger;
}

/** The stat endpoint of the replica with this pod IP, all replicas serving on one port. */
export function statUrl(ip: string, port: number): string {
  return `http://${isIP(ip) === 6 ? `[${ip}]` : ip}:${port}${STAT_PATH}`;
}

export function createStatServer(options: StatServerOptions): Server {
  const log = options.log ?? createLogger('stat-server');
  return http.createServer((req, res) => {
    if (req.url?.split('?')[0] !== STAT_PATH || req.method !== 'POST')
      return answer(res, 404, { error: 'POST /stats only' });
    readBody(req, MAX_BODY_BYTES)
      .then(async (text) => {
        const parsed = bodySchema.safeParse(JSON.parse(text));
        if (!parsed.success) return answer(res, 400, { error: parsed.error.message });
        if (options.leading && !options.leading()) {
          const target = req.headers[FORWARDED_HEADER] === undefined ? options.leaderUrl?.() : undefined;
          if (target === undefined) return answer(res, 503, { error: 'not the leading autoscaler' });
          return forward(target, text, res, log);
        }
        let accepted = 0;
        for (const { namespace, revision, stat } of parsed.data) {
          if (options.receiver.push(`${namespace}/${revision}`, stat)) accepted++;
        }
        answer(res, 202, { accepted });
      })
      .catch((error: Error) => {
        log.info('rejected stat push', { error });
        answer(res, 400, { error: error.message });
      });
  });
}

export async function listenStatServer(server: Server, port: number, host = '0.0.0.0'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function forward(target: string, text: string, res: ServerResponse, log: Logger): Promise<void> {
  try {
    const reply = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [FORWARDED_HEADER]: '1' },
      body: text,
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    answer(res, reply.status, await reply.json().catch(() => ({ error: `leader answered ${reply.status}` })));
  } catch (error) {
    log.warn('could not forward stats to the leading autoscaler', { target, error });
    answer(res, 503, { error: 'the leading autoscaler did not answer' });
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
