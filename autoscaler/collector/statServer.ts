// Where activators push the load they hold for revisions. Knative uses a websocket carrying
// protobuf; here it is one HTTP POST per report:
//
//   POST /stats   content-type: application/json
//   [{"namespace":"ns","revision":"rev-00001","stat":{"podName":"activator-x",
//     "averageConcurrentRequests":1,"averageProxiedConcurrentRequests":0,
//     "requestCount":1,"proxiedRequestCount":0}}, …]
//
// Answers 202 with {"accepted":n} (stats for revisions this autoscaler does not know are
// dropped, as upstream drops them), 400 on a malformed body, 503 while this replica does not
// lead (the leader is the only one deciding, so only it may record).
import { readBody } from '../../lib/http/body.ts';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createLogger, type Logger } from '../../lib/log.ts';
import type { Stat } from '../metrics/revisionMetrics.ts';

export const STAT_PATH = '/stats';
const MAX_BODY_BYTES = 1 << 20;

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
  /** Stats are refused while this says no. */
  accepting?: () => boolean;
  log?: Logger;
}

export function createStatServer(options: StatServerOptions): Server {
  const log = options.log ?? createLogger('stat-server');
  return createServer((req, res) => {
    if (req.url?.split('?')[0] !== STAT_PATH || req.method !== 'POST')
      return answer(res, 404, { error: 'POST /stats only' });
    if (options.accepting && !options.accepting()) return answer(res, 503, { error: 'not the leading autoscaler' });
    readBody(req, MAX_BODY_BYTES)
      .then((text) => {
        const parsed = bodySchema.safeParse(JSON.parse(text));
        if (!parsed.success) return answer(res, 400, { error: parsed.error.message });
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

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
