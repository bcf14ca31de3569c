// `pilotlight autoscaler`: the KPA (PodAutoscaler reconciler, metric collection, activator stat
// endpoint), HPA-class PodAutoscalers (through Kubernetes HorizontalPodAutoscalers) and the
// ServerlessService reconciler. Replicas campaign for one Lease; only the
// holder scrapes, decides, records pushed stats and writes, so two replicas never decide twice.
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { Labels } from '../lib/apis/serving.ts';
import { realClock } from '../lib/clock.ts';
import { CONFIG_AUTOSCALER, parseAutoscalerConfig } from '../lib/config/autoscaler.ts';
import { MetricsPorts } from '../lib/hop.ts';
import { followLogLevel } from '../lib/config/logging.ts';
import { ConfigStore } from '../lib/config/store.ts';
import { EventRecorder } from '../lib/kube/events.ts';
import { InformerFactory } from '../lib/kube/informerFactory.ts';
import { LeaderElector, leaderIdentity, leaderIp, loadLeaderElectionConfig } from '../lib/kube/leaderElection.ts';
import { createKubeRest } from '../lib/kube/rest.ts';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { createLogger } from '../lib/log.ts';
import { createRegistry, serveMetrics } from '../lib/metrics.ts';
import { startServerlessServiceController } from './serverlessservice/controller.ts';
import { KubernetesPodSource } from './collector/podSource.ts';
import { statUrl } from './collector/statServer.ts';
import { startAutoscaler } from './runtime.ts';

const USAGE = `usage: pilotlight autoscaler [--kubeconfig FILE] [--stat-port 8080] [--metrics-port ${MetricsPorts.autoscaler}]
                             [--watch-namespace NS]
  --stat-port        where activators POST their stats (JSON, see autoscaler/collector/statServer.ts)
  --metrics-port     Prometheus metrics (kn_revision_* gauges) on /metrics
  --watch-namespace  handle PodAutoscalers and ServerlessServices of one namespace only
config-autoscaler, config-leader-election and the Lease pilotlight-autoscaler live in
SYSTEM_NAMESPACE. Every replica takes stats; one that does not lead forwards them to the leader,
at the pod IP its Lease names.
environment: SYSTEM_NAMESPACE (default knative-serving), KUBECONFIG (else in-cluster),
             POD_NAME and POD_IP (the Lease holder's identity, <pod name>_<pod IP>)`;

function port(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${flag}: ${value} is not a port number`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'stat-port': { type: 'string', default: '8080' },
      'metrics-port': { type: 'string', default: String(MetricsPorts.autoscaler) },
      'watch-namespace': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const statPort = port('stat-port', values['stat-port']);
  const metricsPort = port('metrics-port', values['metrics-port']);
  const namespace = values['watch-namespace'];
  const systemNamespace = process.env.SYSTEM_NAMESPACE ?? 'knative-serving';
  // Knative's <pod name>_<pod IP>: replicas that do not lead forward activator stats to that IP.
  const identity = leaderIdentity(process.env.POD_NAME ?? hostname(), process.env.POD_IP);
  const log = createLogger('autoscaler', { identity });

  const client = createKubeRest(loadKubeConnection(values.kubeconfig));
  // The KPA and the SKS reconciler both read ServerlessServices: one watch serves both.
  const informers = new InformerFactory({ client, log });
  informers.start();
  const config = new ConfigStore({
    informers,
    namespace: systemNamespace,
    log: log.with({ part: 'config' }),
    entries: { autoscaler: { name: CONFIG_AUTOSCALER, parse: parseAutoscalerConfig } },
  });
  followLogLevel({
    informers,
    namespace: systemNamespace,
    component: 'autoscaler',
    log: log.with({ part: 'logging' }),
  });
  await config.whenSynced();

  const registry = createRegistry('autoscaler');
  const metricsServer: Server = await serveMetrics(registry, metricsPort);
  const elector = new LeaderElector({
    client,
    namespace: systemNamespace,
    name: 'pilotlight-autoscaler',
    identity,
    ...(await loadLeaderElectionConfig(client, systemNamespace, log)),
  });
  const pods = new KubernetesPodSource(informers, namespace);
  const revisionOfPod = (pod: KubernetesObject) => {
    const revision = (pod as V1Pod).metadata?.labels?.[Labels.revision];
    return revision ? [`${pod.metadata?.namespace}/${revision}`] : [];
  };

  const autoscaler = await startAutoscaler({
    client,
    informers,
    namespace,
    pods,
    clock: realClock,
    registry,
    leadership: elector,
    config: () => config.snapshot().autoscaler,
    recorder: new EventRecorder({ client, component: 'autoscaler', host: identity }),
    statPort,
    leaderStatUrl: () => {
      const ip = leaderIp(elector.leader() ?? '');
      return ip === undefined ? undefined : statUrl(ip, statPort);
    },
    // Pods becoming ready or going away change actualScale and the Active condition.
    extraSources: [{ source: pods.informer, toKeys: revisionOfPod }],
    log,
  });
  const serverlessServices = startServerlessServiceController({
    client,
    informers,
    namespace,
    systemNamespace,
    registry,
    leadership: elector,
    log: log.with({ part: 'serverlessservice' }),
  });
  // A ConfigMap edit re-evaluates every PodAutoscaler with the new settings.
  config.onChange(() => autoscaler.resyncAll());
  elector.start();
  log.info('autoscaler started', {
    statPort: autoscaler.statPort,
    metricsPort,
    systemNamespace,
    watchNamespace: namespace ?? '(all)',
  });

  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('shutting down');
  await elector.stop();
  await Promise.all([autoscaler.stop(), serverlessServices.stop()]);
  await informers.stop();
  await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: Error) => {
      createLogger('autoscaler').error('autoscaler failed', { error });
      process.exit(1);
    },
  );
}
