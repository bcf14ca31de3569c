// `pilotlight controller`: the control plane of the operator. Every replica serves the admission
// webhook; the reconcilers (Service, Configuration, Revision, Route, DomainMapping) run only on
// the replica that holds the Lease, so two replicas never reconcile at once.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { LeaderElector } from '../lib/kube/leaderElection.ts';
import { createKubeRest } from '../lib/kube/rest.ts';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { createLogger } from '../lib/log.ts';
import { createRegistry } from '../lib/metrics.ts';
import { startReconcilers } from './reconcilers.ts';
import { runWebhook } from './webhook/main.ts';

/** The chart's headless gateway-admin Service, in the chart's default namespace. */
const DEFAULT_GATEWAY_STATS_URL = 'http://gateway-admin.pilotlight-system.svc.cluster.local:8090/revisions/stats';

const USAGE = `usage: pilotlight controller [--webhook-port 8443] [--webhook-host 0.0.0.0]
                             [--webhook-url https://HOST:PORT | --webhook-service NAME]
                             [--gateway-stats-url URL] [--certificate-issuer] [--cert-manager]
  --webhook-url      how the API server reaches the webhook when the controller runs outside the cluster
  --webhook-service  the Service in front of the controller in SYSTEM_NAMESPACE (default: webhook)
  --gateway-stats-url  the gateways' GET /revisions/stats, which the canary analysis reads; a host
                     with several addresses (a headless Service) is asked at each
                     (default: ${DEFAULT_GATEWAY_STATS_URL})
  --certificate-issuer  run pilotlight's certificate class for Knative Certificates (it reads and
                     writes Secrets in every namespace; the chart's certificateIssuer.enabled)
  --cert-manager     run cert-manager's certificate class: Knative Certificates of it become
                     cert-manager Certificates (needs cert-manager; the chart's certManager.enabled)
The reconcilers start once ConfigMap config-deployment exists in SYSTEM_NAMESPACE, and run on
the replica holding the Lease pilotlight-controller there; every replica serves the webhook.
environment: SYSTEM_NAMESPACE (default knative-serving), KUBECONFIG (else in-cluster)`;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'webhook-port': { type: 'string', default: '8443' },
      'webhook-host': { type: 'string', default: '0.0.0.0' },
      'webhook-url': { type: 'string' },
      'webhook-service': { type: 'string', default: 'webhook' },
      'gateway-stats-url': { type: 'string', default: DEFAULT_GATEWAY_STATS_URL },
      'certificate-issuer': { type: 'boolean', default: false },
      'cert-manager': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values['webhook-port']);
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`--webhook-port: ${values['webhook-port']} is not a port number`);
  if (!URL.canParse(values['gateway-stats-url']))
    throw new Error(
      `--gateway-stats-url: ${values['gateway-stats-url']} is not a URL such as http://HOST:8090/revisions/stats`,
    );
  const systemNamespace = process.env.SYSTEM_NAMESPACE ?? 'knative-serving';
  const log = createLogger('controller');
  const client = createKubeRest(loadKubeConnection());
  const server = await runWebhook(
    client,
    {
      systemNamespace,
      host: values['webhook-host'],
      port,
      endpoint: values['webhook-url']
        ? { url: values['webhook-url'] }
        : { service: { namespace: systemNamespace, name: values['webhook-service'], port: 443 } },
    },
    log,
  );
  const elector = new LeaderElector({
    client,
    namespace: systemNamespace,
    name: 'pilotlight-controller',
    identity: `${hostname()}_${randomBytes(4).toString('hex')}`,
  });
  const reconcilers = startReconcilers({
    client,
    systemNamespace,
    leadership: elector,
    registry: createRegistry('controller'),
    log: log.with({ part: 'reconcilers' }),
    gatewayStatsUrl: values['gateway-stats-url'],
    certificateIssuer: values['certificate-issuer'],
    certManager: values['cert-manager'],
  });
  elector.start();
  const stop = (signal: string) => {
    log.info('shutting down', { signal });
    setTimeout(() => process.exit(0), 5000).unref();
    // The Lease is released only after in-flight reconciles end, so the next leader starts clean.
    void elector
      .stop()
      .then(() => reconcilers.stop())
      .finally(() => server.close(() => process.exit(0)));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
