// The least a Node.js reverse proxy can be: node:http's server and keep-alive Agent piping each
// request to USER_PORT, with no breaker, timeouts, probes or metrics. bench/queue-proxy.ts runs
// it beside queue-proxy, with the same node flags, to show how much of queue-proxy's memory is
// Node.js itself. It prints the line queue-proxy prints when it listens.
import type { IncomingMessage, ServerResponse } from 'node:http';

// node:http from the registry of built-ins, as queue-proxy does: an ESM import of it loads undici.
const http = process.getBuiltinModule('node:http');
const userPort = Number(process.env.USER_PORT);
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
  const upstream = http.request(
    { host: '127.0.0.1', port: userPort, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.writeHead(502).end());
  req.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(JSON.stringify({ message: 'queue-proxy started', servingPort: port }));
});
