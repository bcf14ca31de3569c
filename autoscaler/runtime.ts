// The KPA wired together: the process's informers on PodAutoscalers, ServerlessServices and
// HorizontalPodAutoscalers, the per-revision scalers ticking on the clock, the collector, the
// activator stat endpoint and the PodAutoscaler controller, which hands each PA to the KPA or
// the HPA reconciler by its class. main.ts runs it against a cluster; tests run it in-process with a
// static pod source and a fake clock.
import { PA_API_VERSION, type PodAutoscaler } from '../lib/apis/autoscaling.ts';
import type { Server } from 'node:http';
import type { KubernetesObject, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Clock } from '../lib/clock.ts';
import type { AutoscalerConfig } from '../lib/config/autoscaler.ts';
import { Controller, type EventSource, type Leadership } from '../lib/controller.ts';
import type { EventRecorder } from '../lib/kube/events.ts';
import type { InformerFactory } from '../lib/kube/informerFactory.ts';
import { objectKey } from '../lib/kube/store.ts';
import type { KubeRest } from '../lib/kube/rest.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import type { ServerlessService } from '../lib/apis/networking.ts';
import { MetricCollector } from './collector/collector.ts';
import type { PodSource } from './collector/podSource.ts';
import type { Rand } from './collector/sampling.ts';
import type { FetchPodStat } from './collector/scraper.ts';
import { createStatServer, listenStatServer } from './collector/statServer.ts';
import { createHpaReconciler } from './hpa/reconciler.ts';
import { HPA_API_VERSION } from './hpa/resources.ts';
import { AutoscalerMetrics } from './kpa/metrics.ts';
import { createPodAutoscalerReconciler } from './kpa/reconciler.ts';
import { RevisionScalers } from './kpa/revisionScalers.ts';
import { SKS_API_VERSION } from '../lib/apis/networking.ts';

export interface AutoscalerOptions {
  client: KubeRest;
  /** The process's factory; its owner starts and stops it. */
  informers: InformerFactory;
  /** Watch one namespace only; all of them when absent. */
  namespace?: string;
  pods: PodSource;
  config: () => AutoscalerConfig;
  clock: Clock;
  registry: Registry;
  /** When given, only the leading replica scrapes, decides, records pushed stats and scales. */
  leadership?: Leadership;
  recorder?: Pick<EventRecorder, 'event'>;
  /** Port of the activator stat endpoint; none is served when absent. */
  statPort?: number;
  /** The leader's stat endpoint, where a replica that does not lead forwards what it is sent. */
  leaderStatUrl?: () => string | undefined;
  statHost?: string;
  /** Extra sources whose events re-evaluate a PA, each mapped to PA keys. */
  extraSources?: { source: EventSource<KubernetesObject>; toKeys(object: KubernetesObject): string[] }[];
  /** Scraping can be driven by hand (collector.scrapeOnce) instead of every second. */
  scrapeOnTimer?: boolean;
  fetchStat?: FetchPodStat;
  rand?: Rand;
  log?: Logger;
}

export interface RunningAutoscaler {
  scalers: RevisionScalers;
  collector: MetricCollector;
  controller: Controller;
  /** The bound port of the stat endpoint, when one is served. */
  statPort: number | undefined;
  /** Reconciles every PodAutoscaler again, e.g. after config-autoscaler changed. */
  resyncAll(): void;
  whenSynced(): Promise<void>;
  /** Stops deciding and serving stats; the informers are the factory owner's to stop. */
  stop(): Promise<void>;
}

const collectionPath = (apiVersion: string, plural: string, namespace?: string) =>
  `/apis/${apiVersion}${namespace ? `/namespaces/${namespace}` : ''}/${plural}`;

export async function startAutoscaler(options: AutoscalerOptions): Promise<RunningAutoscaler> {
  const log = options.log ?? createLogger('autoscaler');
  const { client, clock, informers } = options;
  const podAutoscalers = informers.informer<PodAutoscaler & KubernetesObject>({
    path: collectionPath(PA_API_VERSION, 'podautoscalers', options.namespace),
  });
  const serverlessServices = informers.informer<ServerlessService & KubernetesObject>({
    path: collectionPath(SKS_API_VERSION, 'serverlessservices', options.namespace),
  });
  const horizontalPodAutoscalers = informers.informer<V2HorizontalPodAutoscaler>({
    path: collectionPath(HPA_API_VERSION, 'horizontalpodautoscalers', options.namespace),
  });

  const metrics = new AutoscalerMetrics(options.registry);
  const scalers = new RevisionScalers({
    clock,
    pods: options.pods,
    metrics,
    // Ticks and pushes, the only callers, begin only once the controller below exists.
    onStatusChange: (key) => controller.enqueue(key),
    onPanicChange: (key, panicking) => {
      const pa = podAutoscalers.lister.get(key);
      if (!pa || !options.recorder) return;
      void options.recorder.event(
        pa,
        'Normal',
        panicking ? 'PanicStarted' : 'PanicEnded',
        panicking
          ? 'The load is over the panic threshold: scaling up without scaling down'
          : 'The load has been below the panic threshold for a stable window',
      );
    },
    log,
  });
  const collector = new MetricCollector({
    sink: scalers,
    pods: options.pods,
    clock,
    registry: options.registry,
    rand: options.rand,
    fetchStat: options.fetchStat,
    log,
  });

  const controller = new Controller({
    name: 'podautoscaler',
    registry: options.registry,
    leadership: options.leadership,
    log,
    reconcile: async (key, log) => {
      // Each reconciler leaves a PA of the other class alone but for dropping what it kept for
      // it (a decider; an HPA), so a PA whose class changes is handed over cleanly.
      const kpaResult = await reconcileKpa(key, log);
      const hpaResult = await reconcileHpa(key, log);
      return kpaResult ?? hpaResult;
    },
  });
  const reconcileKpa = createPodAutoscalerReconciler({
    client,
    clock,
    scalers,
    pods: options.pods,
    config: options.config,
    metrics,
    podAutoscalers: podAutoscalers.lister,
    serverlessServices: serverlessServices.lister,
    recorder: options.recorder,
  });
  const reconcileHpa = createHpaReconciler({
    client,
    clock,
    config: options.config,
    podAutoscalers: podAutoscalers.lister,
    serverlessServices: serverlessServices.lister,
    horizontalPodAutoscalers: horizontalPodAutoscalers.lister,
    recorder: options.recorder,
  });
  controller.watch(podAutoscalers);
  // An SKS and an HPA are named after their PA.
  controller.watch(serverlessServices);
  controller.watch(horizontalPodAutoscalers);
  for (const { source, toKeys } of options.extraSources ?? []) controller.watch(source, toKeys);

  const leading = () => !options.leadership || options.leadership.isLeader();
  const resyncAll = () => {
    for (const pa of podAutoscalers.lister.list()) controller.enqueue(objectKey(pa));
  };
  const startCollecting = () => {
    if (options.scrapeOnTimer !== false) collector.start();
  };
  // A replica leading again after a spell as follower has an empty queue and no scalers.
  const onStartedLeading = () => {
    startCollecting();
    resyncAll();
  };
  // A replica that stops leading forgets what it decided: the next leader starts afresh, as a
  // restarted upstream autoscaler does, rather than from stale windows.
  const stopCollecting = () => {
    collector.stop();
    scalers.stop();
  };
  const unsubscribe = options.leadership?.subscribe({ onStartedLeading, onStoppedLeading: stopCollecting });
  if (leading()) startCollecting();

  let statServer: Server | undefined;
  let statPort: number | undefined;
  if (options.statPort !== undefined) {
    statServer = createStatServer({ receiver: scalers, leading, leaderUrl: options.leaderStatUrl, log });
    statPort = await listenStatServer(statServer, options.statPort, options.statHost);
  }

  void controller.start();

  return {
    scalers,
    collector,
    controller,
    statPort,
    resyncAll,
    whenSynced: async () => {
      await Promise.all([
        podAutoscalers.whenSynced(),
        serverlessServices.whenSynced(),
        horizontalPodAutoscalers.whenSynced(),
      ]);
    },
    async stop() {
      unsubscribe?.();
      stopCollecting();
      await controller.stop();
      if (statServer) {
        statServer.closeAllConnections();
        await new Promise<void>((resolve) => statServer.close(() => resolve()));
      }
    },
  };
}
