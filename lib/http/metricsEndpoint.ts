// The /metrics endpoint every component serves. Kept free of prom-client so that queue-proxy,
// which writes its exposition by hand, can share it without loading the library.
import type { Server, ServerResponse } from 'node:http';
import { http } from './builtins.ts';

/** Listens on host:port, answering GET /metrics with respond and anything else with 404. */
export async function serveMetricsEndpoint(
  respond: (res: ServerResponse) => void,
  port: number,
  host: string,
): Promise<Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      respond(res);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
