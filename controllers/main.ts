// `pilotlight controller`: the control plane of the operator. Today it serves the admission
// webhook (defaults and validation of serving.knative.dev objects).
import { KubeConfig } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import { createLogger } from '../lib/log.ts';
import { runWebhook } from './webhook/main.ts';

const USAGE = `usage: pilotlight controller [--webhook-port 8443] [--webhook-host 0.0.0.0]
                             [--webhook-url https://HOST:PORT | --webhook-service NAME]
  --webhook-url      how the API server reaches the webhook when the controller runs outside the cluster
  --webhook-service  the Service in front of the controller in SYSTEM_NAMESPACE (default: webhook)
environment: SYSTEM_NAMESPACE (default knative-serving), KUBECONFIG (else in-cluster)`;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'webhook-port': { type: 'string', default: '8443' },
      'webhook-host': { type: 'string', default: '0.0.0.0' },
      'webhook-url': { type: 'string' },
      'webhook-service': { type: 'string', default: 'webhook' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values['webhook-port']);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`--webhook-port: ${values['webhook-port']} is not a port number`);
  const systemNamespace = process.env.SYSTEM_NAMESPACE ?? 'knative-serving';
  const log = createLogger('controller');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const server = await runWebhook(kc, {
    systemNamespace,
    host: values['webhook-host'],
    port,
    endpoint: values['webhook-url']
      ? { url: values['webhook-url'] }
      : { service: { namespace: systemNamespace, name: values['webhook-service'], port: 443 } },
  }, log);
  const stop = (signal: string) => {
    log.info('shutting down', { signal });
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
