// One informer factory per process, against the real API server: the parts of a process that read
// the same objects open one watch between them. The autoscaler's KPA and SKS reconciler both read
// ServerlessServices; the controller's webhook and reconcilers both read the system ConfigMaps.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { StaticPodSource } from '../../autoscaler/collector/podSource.ts';
import { startReconcilers } from '../../controllers/reconcilers.ts';
import { watchWebhookConfig } from '../../controllers/webhook/configWatcher.ts';
import { realClock } from '../../lib/clock.ts';
import { parseAutoscalerConfig } from '../../lib/config/autoscaler.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { createLogger } from '../../lib/log.ts';
import { createNamespace } from '../support/kube.ts';
import { api, startAutoscalerProcess, startedInformers } from './autoscaler/support.ts';
import { eventually } from './lib/wait.ts';

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

/** How often the path was watched, once its first watch is open (an informer watches right after it lists). */
async function watchesOf(watches: string[], path: string): Promise<number> {
  await eventually(() => watches.includes(path), `a watch on ${path}`);
  return watches.filter((watch) => watch === path).length;
}

describe('one informer factory per process', () => {
  it('gives the KPA and the SKS reconciler one ServerlessService watch', async () => {
    const ns = await createNamespace('shared-sks');
    const { client, watches } = countingWatches();
    const config = parseAutoscalerConfig(undefined);
    const running = await startAutoscalerProcess(
      ns,
      {
        client: api,
        pods: new StaticPodSource(),
        clock: realClock,
        registry: new Registry(),
        config: () => config,
        scrapeOnTimer: false,
      },
      client,
    );
    stops.push(() => running.stop());

    const sksPath = `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/serverlessservices`;
    expect(await watchesOf(watches, sksPath)).toBe(1);
    expect(watches.length).toBe(new Set(watches).size);
  });

  it("gives the webhook's and the reconcilers' configuration one ConfigMap watch", async () => {
    const ns = await createNamespace('shared-config');
    const { client, watches } = countingWatches();
    const informers = startedInformers(client);
    stops.push(() => informers.stop());
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
