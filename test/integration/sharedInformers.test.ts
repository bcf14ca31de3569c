// One informer factory per process, against the real API server: the parts of a process that read
// the same objects open one watch between them. The autoscaler's KPA and SKS reconciler both read
// ServerlessServices; the controller's webhook and reconcilers both read the system ConfigMaps.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { StaticPodSource } from '../../autoscaler/collector/podSource.ts';
import { startAutoscaler } from '../../autoscaler/runtime.ts';
import { startServerlessServiceController } from '../../autoscaler/serverlessservice/controller.ts';
import { startReconcilers } from '../../controllers/reconcilers.ts';
import { watchWebhookConfig } from '../../controllers/webhook/configWatcher.ts';
import { realClock } from '../../lib/clock.ts';
import { parseAutoscalerConfig } from '../../lib/config/autoscaler.ts';
import { InformerFactory } from '../../lib/kube/informerFactory.ts';
import { createKubeRest, type KubeRest } from '../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../lib/kube/kubeconfig.ts';
import { createLogger } from '../../lib/log.ts';
import { createNamespace } from '../support/kube.ts';
import { eventually } from './lib/wait.ts';

const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** The API server, with every watch it is asked for recorded as `path selectors`. */
function countingWatches(): { client: KubeRest; watches: string[] } {
  const watches: string[] = [];
  return {
    watches,
    client: {
      request: (method, path, options) => api.request(method, path, options),
      watch(path, options) {
        const { labelSelector = '', fieldSelector = '' } = options?.query ?? {};
        watches.push(`${path} ${labelSelector} ${fieldSelector}`.trim());
        return api.watch(path, options);
      },
    },
  };
}

function startedFactory(client: KubeRest): InformerFactory {
  const informers = new InformerFactory({ client });
  informers.start();
  stops.push(() => informers.stop());
  return informers;
}

/** How often the path was watched, once its first watch is open (an informer watches right after it lists). */
async function watchesOf(watches: string[], path: string): Promise<number> {
  await eventually(() => watches.includes(path), `a watch on ${path}`);
  return watches.filter((watch) => watch === path).length;
}

describe('one informer factory per process', () => {
  it('gives the KPA and the SKS reconciler one ServerlessService watch', async () => {
    const ns = await createNamespace('shared-sks');
    const { client, watches } = countingWatches();
    const informers = startedFactory(client);
    const registry = new Registry();
    const config = parseAutoscalerConfig(undefined);
    const sks = startServerlessServiceController({
      client: api,
      informers,
      namespace: ns,
      systemNamespace: ns,
      registry,
    });
    stops.push(() => sks.stop());
    const autoscaler = await startAutoscaler({
      client: api,
      informers,
      namespace: ns,
      pods: new StaticPodSource(),
      clock: realClock,
      registry,
      config: () => config,
      scrapeOnTimer: false,
    });
    stops.push(() => autoscaler.stop());
    await Promise.all([sks.whenSynced(), autoscaler.whenSynced()]);

    const sksPath = `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/serverlessservices`;
    expect(await watchesOf(watches, sksPath)).toBe(1);
    expect(watches.length).toBe(new Set(watches).size);
  });

  it("gives the webhook's and the reconcilers' configuration one ConfigMap watch", async () => {
    const ns = await createNamespace('shared-config');
    const { client, watches } = countingWatches();
    const informers = startedFactory(client);
    await watchWebhookConfig(informers, ns, createLogger('test'));
    const reconcilers = startReconcilers({
      client: api,
      informers,
      systemNamespace: ns,
      namespace: ns,
      registry: new Registry(),
    });
    stops.push(() => reconcilers.stop());
    await reconcilers.whenSynced();

    expect(await watchesOf(watches, `/api/v1/namespaces/${ns}/configmaps`)).toBe(1);
    expect(watches.length).toBe(new Set(watches).size);
  });
});
