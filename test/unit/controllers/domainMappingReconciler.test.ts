import { describe, expect, it } from 'vitest';
import { domainMappingReconciler } from '../../../controllers/domainmapping/reconciler.ts';
import type { DomainMappingObject } from '../../../lib/apis/domainMapping.ts';
import { parseNetworkConfig } from '../../../lib/config/network.ts';
import type { KubeRest } from '../../../lib/kube/rest.ts';
import { Store } from '../../../lib/kube/store.ts';
import type { EventRecorder } from '../../../lib/kube/events.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';
import { createLogger } from '../../../lib/log.ts';

describe('DomainMapping reconciler, against fakes', () => {
  it('does not call a domain taken when creating its claim meets one the informer has not seen yet', async () => {
    const writes: string[] = [];
    const client: KubeRest = {
      async request(method, path) {
        writes.push(`${method} ${path}`);
        throw Object.assign(new Error('clusterdomainclaims "app.example.org" already exists'), { code: 409 });
      },
      watch: () => {
        throw new Error('no watches here');
      },
    };
    const reconciler = domainMappingReconciler({
      client,
      domainClaims: new Store(),
      ingresses: new Store(),
      services: new Store(),
      routes: new Store(),
      certificates: new Store(),
      config: () => ({ network: parseNetworkConfig({ 'autocreate-cluster-domain-claims': 'true' }) }),
    });
    const dm: DomainMappingObject = {
      apiVersion: 'serving.knative.dev/v1beta1',
      kind: 'DomainMapping',
      metadata: { name: 'app.example.org', namespace: 'team', uid: 'u', generation: 1 },
      spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello', namespace: 'team' } },
    };
    await reconciler.reconcile(dm, {
      log: createLogger('test'),
      clock: new FakeClock(),
      events: { event: async () => {} } as unknown as EventRecorder,
    });
    expect(writes).toEqual(['POST /apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims']);
    expect(dm.status?.conditions?.find((c) => c.type === 'DomainClaimed')?.status).toBe('Unknown');
  });
});
