// `pilotlight controller`: the control plane of the operator. Every replica serves the admission
// webhook; the reconcilers (Service, Configuration, Revision, Route, DomainMapping) run only on
// the replica that holds the Lease, so two replicas never reconcile at once.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { InformerFactory } from '../lib/kube/informerFactory.ts';
import { LeaderElector, leaderIdentity, loadLeaderElectionConfig } from '../lib/kube/leaderElection.ts';
import { createKubeRest } from '../lib/kube/rest.ts';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { followLogLevel } from '../lib/config/logging.ts';
import { MetricsPorts } from '../lib/hop.ts';
import { createLogger } from '../lib/log.ts';
import { createRegistry, serveMetrics } from '../lib/metrics.ts';
import { RESYNC_PERIOD_MS, startReconcilers } from './reconcilers.ts';
import { runWebhook } from './webhook/main.ts';

/** The chart's headless gateway-admin Service, in the chart's default namespace. */
const DEFAULT_GATEWAY_STATS_URL = 'http://gateway-admin.pilotlight-system.svc.cluster.local:8090/revisions/stats';

const USAGE = `usage: pilotlight controller [--webhook-port 8443] [--webhook-host 0.0.0.0] [--metrics-port ${MetricsPorts.controller}]
                             [--webhook-url https://HOST:PORT | --webhook-service NAME]
                             [--gateway-stats-url URL] [--certificate-issuer] [--cert-manager]
                             [--activator-announce-host NAME]
  --webhook-url      how the API server reaches the webhook when the controller runs outside the cluster
  --webhook-service  the Service in front of the controller in SYSTEM_NAMESPACE (default: webhook)
  --gateway-stats-url  the gateways' GET /revisions/stats, which the canary analysis reads; a host
                     with several addresses (a headless Service) is asked at each
                     (default: ${DEFAULT_GATEWAY_STATS_URL})
  --metrics-port     Prometheus metrics (GET /metrics) on --webhook-host, every replica
  --activator-announce-host  the DNS name of the activators' headless announce Service, which each
                     revision's queue-proxy announces its ready pod to (with a token from Secret
                     pilotlight-activator-announce in SYSTEM_NAMESPACE, created when absent); empty: off
                     (default: activator-announce.SYSTEM_NAMESPACE.svc.cluster.local.)
  --certificate-issuer  run pilotlight's certificate class for Knative Certificates (it reads and
                     writes Secrets in every namespace; the chart's certificateIssuer.enabled)
  --cert-manager     run cert-manager's certificate class: Knative Certificates of it become
                     cert-manager Certificates (needs cert-manager; the chart's certManager.enabled)
The reconcilers start once ConfigMap config-deployment exists in SYSTEM_NAMESPACE, and run on
the replica holding the Lease pilotlight-controller there (timings from ConfigMap
config-leader-election, read at start); every replica serves the webhook.
environment: SYSTEM_NAMESPACE (default knative-serving), KUBECONFIG (else in-cluster),
             POD_NAME and POD_IP (the Lease holder's identity)`;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'webhook-port': { type: 'string', default: '8443' },
      'webhook-host': { type: 'string', default: '0.0.0.0' },
      'metrics-port': { type: 'string', default: String(MetricsPorts.controller) },
      'webhook-url': { type: 'string' },
      'webhook-service': { type: 'string', default: 'webhook' },
      'gateway-stats-url': { type: 'string', default: DEFAULT_GATEWAY_STATS_URL },
      'certificate-issuer': { type: 'boolean', default: false },
      'cert-manager': { type: 'boolean', default: false },
      'activator-announce-host': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = portNumber('webhook-port', values['webhook-port']);
  const metricsPort = portNumber('metrics-port', values['metrics-port']);
  if (!URL.canParse(values['gateway-stats-url']))
    throw new Error(
      `--gateway-stats-url: ${values['gateway-stats-url']} is not a URL such as http://HOST:8090/revisions/stats`,
    );
  const systemNamespace = process.env.SYSTEM_NAMESPACE ?? 'knative-serving';
  const log = createLogger('controller');
  const client = createKubeRest(loadKubeConnection());
  // Ready (GET /readyz) once the webhook serves and is registered and every informer has its
  // first list. A replica that cannot list what it reconciles (a missing CRD, a role without
  // the verb) stays unready, so a rollout or `helm --wait` stops there instead of going on.
  let ready = false;
  // The webhook and the reconcilers read the same ConfigMaps: one watch serves both.
  const informers = new InformerFactory({ client, resyncPeriodMs: RESYNC_PERIOD_MS, log });
  informers.start();
  followLogLevel({
    informers,
    namespace: systemNamespace,
    component: 'controller',
    log: log.with({ part: 'logging' }),
  });
  const registry = createRegistry('controller');
  const metricsServer = await serveMetrics(registry, metricsPort, values['webhook-host']);
  const server = await runWebhook(
    client,
    {
      systemNamespace,
      informers,
      host: values['webhook-host'],
      port,
      endpoint: values['webhook-url']
        ? { url: values['webhook-url'] }
        : { service: { namespace: systemNamespace, name: values['webhook-service'], port: 443 } },
      ready: () => ready,
    },
    createLogger('webhook'),
  );
  const elector = new LeaderElector({
    client,
    namespace: systemNamespace,
    name: 'pilotlight-controller',
    identity: leaderIdentity(process.env.POD_NAME ?? hostname(), process.env.POD_IP),
    ...(await loadLeaderElectionConfig(client, systemNamespace, log)),
  });
  const reconcilers = startReconcilers({
    client,
    informers,
    systemNamespace,
    leadership: elector,
    registry,
    log: log.with({ part: 'reconcilers' }),
    gatewayStatsUrl: values['gateway-stats-url'],
    certificateIssuer: values['certificate-issuer'],
    certManager: values['cert-manager'],
    // Absolute (the final dot): one lookup, not one per entry of the pod's DNS search path.
    announceHost: values['activator-announce-host'] ?? `activator-announce.${systemNamespace}.svc.cluster.local.`,
  });
  elector.start();
  void reconcilers.whenSynced().then(() => {
    ready = true;
    log.info('ready: webhook registered, informers synced');
  });
  const stop = (signal: string) => {
    log.info('shutting down', { signal });
    setTimeout(() => process.exit(0), 5000).unref();
    // The Lease is released only after in-flight reconciles end, so the next leader starts clean.
    void elector
      .stop()
      .then(() => reconcilers.stop())
      .then(() => informers.stop())
      .finally(() => {
        metricsServer.close();
        server.close(() => process.exit(0));
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

function portNumber(flag: string, text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`--${flag}: ${text} is not a port number`);
  return port;
}
