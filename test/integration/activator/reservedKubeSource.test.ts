// The activator's Kubernetes pod source against a real API server: a Revision's private
// Endpoints give its standard pods and its reserved Endpoints (serviceType Reserved, with the
// instance's containerConcurrency as a label) its reserved pod; other Endpoints of the revision,
// such as the public ones, are not its pods. The addresses are pod-like ones nothing listens on;
// the test only reads what the source reports.
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { RevisionBackends } from '../../../activator/backends.ts';
import { KubePodSource } from '../../../activator/kubeSource.ts';
import { ReservedInstanceLabels, RESERVED_SERVICE_TYPE } from '../../../lib/config/reservedInstance.ts';
import { createKubeRest } from '../../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';
import { createLogger } from '../../../lib/log.ts';
import { createNamespace } from '../../support/kube.ts';
import { eventually } from '../lib/wait.ts';

const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));
const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function endpoints(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  addresses: { ready: string[]; notReady: string[] },
) {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { namespace, name, labels: { 'serving.knative.dev/revision': 'hello-00001', ...labels } },
    subsets: [
      {
        addresses: addresses.ready.map((ip) => ({ ip })),
        notReadyAddresses: addresses.notReady.map((ip) => ({ ip })),
        ports: [
          { name: 'http-autometric', port: 9090 },
          { name: 'http', port: 8012 },
        ],
      },
    ],
  };
}

describe('activator KubePodSource with a reserved instance', () => {
  it('reports the reserved pod apart from the standard ones, with its containerConcurrency, and forgets it when its Endpoints go', async () => {
    const ns = await createNamespace('activator-reserved');
    await api.request('POST', `/apis/serving.knative.dev/v1/namespaces/${ns}/revisions`, {
      body: {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Revision',
        metadata: { name: 'hello-00001' },
        spec: { containerConcurrency: 5, timeoutSeconds: 30, containers: [{ image: 'dev.local/hello:1' }] },
      },
    });
    const post = (body: object) => api.request('POST', `/api/v1/namespaces/${ns}/endpoints`, { body });
    await post(
      endpoints(
        ns,
        'hello-00001-private',
        { 'networking.internal.knative.dev/serviceType': 'Private' },
        { ready: ['10.1.0.1'], notReady: ['10.1.0.2'] },
      ),
    );
    await post(
      endpoints(
        ns,
        'hello-00001-reserved',
        {
          'networking.internal.knative.dev/serviceType': RESERVED_SERVICE_TYPE,
          [ReservedInstanceLabels.containerConcurrency]: '2',
        },
        { ready: [], notReady: ['10.1.0.9'] },
      ),
    );
    await post(
      endpoints(
        ns,
        'hello-00001',
        { 'networking.internal.knative.dev/serviceType': 'Public' },
        { ready: ['10.1.0.50'], notReady: [] },
      ),
    );

    const reports = new Map<string, RevisionBackends | undefined>();
    const source = new KubePodSource(api, createLogger('activator-test'));
    await source.start({ revisionChanged: (key, backends) => reports.set(key, backends) });
    stops.push(() => source.stop());
    const key = `${ns}/hello-00001`;

    await eventually(
      () => reports.get(key)?.reserved !== undefined && reports.get(key)?.pods.length === 2,
      'the revision with both kinds of pods',
    );
    expect(reports.get(key)).toEqual({
      containerConcurrency: 5,
      timeoutMs: 30_000,
      pods: ['10.1.0.1:8012', '10.1.0.2:8012'],
      reserved: { containerConcurrency: 2, pods: ['10.1.0.9:8012'] },
      notReady: ['10.1.0.2:8012', '10.1.0.9:8012'],
      announcePort: 8012,
    });

    await api.request('DELETE', `/api/v1/namespaces/${ns}/endpoints/hello-00001-reserved`);
    await eventually(
      () => reports.get(key) !== undefined && reports.get(key)?.reserved === undefined,
      'the reserved pod forgotten',
    );
    expect(reports.get(key)).toEqual({
      containerConcurrency: 5,
      timeoutMs: 30_000,
      pods: ['10.1.0.1:8012', '10.1.0.2:8012'],
      notReady: ['10.1.0.2:8012'],
      announcePort: 8012,
    });

    // A pod whose readiness probe starts failing moves to notReadyAddresses: the activator hears
    // which, to probe it again before it gets more requests.
    const privatePath = `/api/v1/namespaces/${ns}/endpoints/hello-00001-private`;
    const current = await api.request<Record<string, any>>('GET', privatePath);
    const moved = endpoints(
      ns,
      'hello-00001-private',
      { 'networking.internal.knative.dev/serviceType': 'Private' },
      { ready: [], notReady: ['10.1.0.1', '10.1.0.2'] },
    );
    await api.request('PUT', privatePath, {
      body: { ...moved, metadata: { ...moved.metadata, resourceVersion: current.metadata.resourceVersion } },
    });
    await eventually(() => reports.get(key)?.notReady?.length === 2, 'both pods reported not ready');
    expect(reports.get(key)).toEqual({
      containerConcurrency: 5,
      timeoutMs: 30_000,
      pods: ['10.1.0.1:8012', '10.1.0.2:8012'],
      notReady: ['10.1.0.1:8012', '10.1.0.2:8012'],
      announcePort: 8012,
    });
  });
});
