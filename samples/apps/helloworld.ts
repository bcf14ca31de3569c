// The helloworld app of the Knative samples, for a cluster without a registry: answers
// "Hello <TARGET>!" on $PORT, as the upstream Go sample does.
import { createServer } from 'node:http';

const target = process.env.TARGET ?? 'World';
const port = Number(process.env.PORT ?? 8080);

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`Hello ${target}!\n`);
});
server.listen(port, () => console.log(JSON.stringify({ msg: 'helloworld listening', port })));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
