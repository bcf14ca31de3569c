// A revision's reserved instance (`<rev>-reserved` Deployment and Service) kept, sized, scaled
// and removed by the revision reconciler in process against the real API server.
import { describe, expect, it } from 'vitest';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  condition,
  deploymentsPath,
  FakeDataPlane,
  get,
  getOrUndefined,
  isReadyNow,
  ksvc,
  podAutoscalersPath,
  putConfigMap,
  QUEUE_IMAGE,
  serving,
  startInProcess,
  waitFor,
  cleanupsAfterEach,
} from './harness.ts';

const cleanups = cleanupsAfterEach();

async function setUp(prefix: string, reservedInstance?: Record<string, string>) {
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  if (reservedInstance) await putConfigMap(ns, 'config-reserved-instance', reservedInstance);
  const reconcilers = await startInProcess(ns);
  const dataPlane = new FakeDataPlane(api, ns).start();
  cleanups.push(
    () => reconcilers.stop(),
    () => dataPlane.stop(),
  );
  return { ns, reconcilers };
}

const servicesPath = (ns: string, name = '') => `/api/v1/namespaces/${ns}/services${name ? `/${name}` : ''}`;
const withTemplate = (name: string, annotations: Record<string, string>, spec: Record<string, unknown> = {}) => {
  const svc = ksvc(name);
  svc.spec.template.metadata = { annotations };
  Object.assign(svc.spec.template.spec, spec);
  return svc;
};
const instanceMode = (rev: any) => rev?.status?.annotations?.['pilotlight.dev/instance-mode'];

describe('reserved instance', () => {
  it('keeps a burstable reserved Deployment and Service beside the standard Deployment, and reports the mode', async () => {
    const { ns, reconcilers } = await setUp('reserved-on');
    await mustSucceed(
      apply(ns, withTemplate('hello', { 'pilotlight.dev/reserved-instance': 'enabled' }, { containerConcurrency: 4 })),
    );
    await waitFor('hello to be ready', () => getOrUndefined(serving(ns, 'services', 'hello')), isReadyNow);
    const rev = await get(serving(ns, 'revisions', 'hello-00001'));
    const uid = rev.metadata.uid as string;

    const standard = await get(deploymentsPath(ns, 'hello-00001-deployment'));
    expect(standard.spec.replicas).toBe(1);
    const reserved = await waitFor('the reserved Deployment', () =>
      getOrUndefined(deploymentsPath(ns, 'hello-00001-reserved')),
    );
    expect(reserved.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Revision',
        name: 'hello-00001',
        uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(reserved.spec.replicas).toBe(1);
    expect(reserved.spec.selector).toEqual({ matchLabels: { 'pilotlight.dev/reserved-revision-uid': uid } });
    const podLabels = reserved.spec.template.metadata.labels;
    expect(podLabels).toMatchObject({
      'pilotlight.dev/reserved-revision': 'hello-00001',
      'pilotlight.dev/reserved-revision-uid': uid,
      'serving.knative.dev/service': 'hello',
      'serving.knative.dev/configuration': 'hello',
      app: 'hello-00001',
    });
    expect(podLabels).not.toHaveProperty('serving.knative.dev/revision');
    expect(podLabels).not.toHaveProperty('serving.knative.dev/revisionUID');
    const [user, queue] = reserved.spec.template.spec.containers;
    expect(user.resources).toEqual({ requests: { cpu: '25m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } });
    expect(queue.env.find((e: any) => e.name === 'CONTAINER_CONCURRENCY')).toEqual({
      name: 'CONTAINER_CONCURRENCY',
      value: '4',
    });

    const service = await waitFor('the reserved Service', () =>
      getOrUndefined(servicesPath(ns, 'hello-00001-reserved')),
    );
    expect(service.metadata.labels).toEqual({
      'networking.internal.knative.dev/serviceType': 'Reserved',
      'serving.knative.dev/revision': 'hello-00001',
      'pilotlight.dev/container-concurrency': '4',
    });
    expect(service.metadata.ownerReferences[0]).toMatchObject({ kind: 'Revision', uid, controller: true });
    expect(service.spec.selector).toEqual({ 'pilotlight.dev/reserved-revision-uid': uid });
    expect(service.spec.ports.map((p: any) => `${p.name}:${p.port}->${p.targetPort}`)).toEqual([
      'http:80->8012',
      'https:443->8112',
      'http-autometric:9090->http-autometric',
      'http-usermetric:9091->http-usermetric',
      'http-istio:8012->8012',
    ]);

    const ready = await waitFor(
      'ReservedInstanceReady',
      () => get(serving(ns, 'revisions', 'hello-00001')),
      (r) => condition(r, 'ReservedInstanceReady')?.status === 'True',
    );
    expect(condition(ready, 'ReservedInstanceReady')?.severity).toBe('Info');
    expect(instanceMode(ready)).toBe('standard');

    // The autoscaler scales the standard instances to zero, then wants one back.
    const paPath = podAutoscalersPath(ns, 'hello-00001');
    const scale = async (desiredScale: number, actualScale: number) => {
      const pa = await get(paPath);
      await api.request('PUT', `${paPath}/status`, {
        body: { ...pa, status: { ...pa.status, desiredScale, actualScale } },
      });
    };
    await scale(0, 0);
    await waitFor(
      'reserved-only',
      () => get(serving(ns, 'revisions', 'hello-00001')),
      (r) => instanceMode(r) === 'reserved-only',
    );
    await scale(1, 0);
    await waitFor(
      'scaling-from-reserved',
      () => get(serving(ns, 'revisions', 'hello-00001')),
      (r) => instanceMode(r) === 'scaling-from-reserved',
    );
    const gauge = (await reconcilers.registry.getSingleMetric('pilotlight_revision_instance_mode')!.get()).values
      .filter((v) => v.labels.revision === 'hello-00001' && v.labels.namespace === ns)
      .map((v) => [v.labels.mode, v.value])
      .sort();
    expect(gauge).toEqual([
      ['reserved-only', 0],
      ['scaling-from-reserved', 1],
      ['standard', 0],
    ]);

    // Switched off on the revision: the reserved objects go, the condition with them.
    await api.request('PATCH', serving(ns, 'revisions', 'hello-00001'), {
      body: { metadata: { annotations: { 'pilotlight.dev/reserved-instance': 'disabled' } } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor(
      'the reserved Deployment to be deleted',
      async () => (await getOrUndefined(deploymentsPath(ns, 'hello-00001-reserved'))) === undefined,
      (gone) => gone,
    );
    await waitFor(
      'the reserved Service to be deleted',
      async () => (await getOrUndefined(servicesPath(ns, 'hello-00001-reserved'))) === undefined,
      (gone) => gone,
    );
    const off = await waitFor(
      'the revision to drop the condition',
      () => get(serving(ns, 'revisions', 'hello-00001')),
      (r) => condition(r, 'ReservedInstanceReady') === undefined && instanceMode(r) === 'standard',
    );
    expect(condition(off, 'Ready')?.status).not.toBe('False');
    expect(await getOrUndefined(deploymentsPath(ns, 'hello-00001-deployment'))).toBeDefined();
  });

  it('keeps none for a revision with min-scale 1', async () => {
    const { ns } = await setUp('reserved-minscale');
    await mustSucceed(
      apply(
        ns,
        withTemplate('pinned', {
          'pilotlight.dev/reserved-instance': 'enabled',
          'autoscaling.knative.dev/min-scale': '1',
        }),
      ),
    );
    const rev = await waitFor(
      'the revision to report its mode',
      () => getOrUndefined(serving(ns, 'revisions', 'pinned-00001')),
      (r) => instanceMode(r) === 'standard',
    );
    expect(condition(rev, 'ReservedInstanceReady')).toBeUndefined();
    expect(await getOrUndefined(deploymentsPath(ns, 'pinned-00001-deployment'))).toBeDefined();
    expect(await getOrUndefined(deploymentsPath(ns, 'pinned-00001-reserved'))).toBeUndefined();
    expect(await getOrUndefined(servicesPath(ns, 'pinned-00001-reserved'))).toBeUndefined();
  });

  it('follows the cluster default, and scales the reserved instance of a revision no route serves to zero', async () => {
    const { ns } = await setUp('reserved-routing', {
      enabled: 'true',
      'container-concurrency': '3',
      'cpu-limit': '500m',
    });
    await mustSucceed(apply(ns, ksvc('app', 'dev.local/app:1')));
    const first = await waitFor('the first reserved Deployment', () =>
      getOrUndefined(deploymentsPath(ns, 'app-00001-reserved')),
    );
    expect(first.spec.replicas).toBe(1);
    expect(first.spec.template.spec.containers[0].resources.limits).toEqual({ cpu: '500m', memory: '256Mi' });
    const firstService = await waitFor('the first reserved Service', () =>
      getOrUndefined(servicesPath(ns, 'app-00001-reserved')),
    );
    expect(firstService.metadata.labels['pilotlight.dev/container-concurrency']).toBe('3');

    await mustSucceed(apply(ns, ksvc('app', 'dev.local/app:2')));
    await waitFor(
      'app-00002 to take the traffic',
      () => getOrUndefined(serving(ns, 'services', 'app')),
      (svc) => isReadyNow(svc) && svc.status?.latestReadyRevisionName === 'app-00002',
    );
    const old = await waitFor(
      'app-00001 to be marked reserve',
      () => get(serving(ns, 'revisions', 'app-00001')),
      (r) => r.metadata.labels['serving.knative.dev/routingState'] === 'reserve',
    );
    expect(old.metadata.labels['serving.knative.dev/routingState']).toBe('reserve');
    await waitFor(
      'the old reserved Deployment to scale to zero',
      () => get(deploymentsPath(ns, 'app-00001-reserved')),
      (d) => d.spec.replicas === 0,
    );
    await waitFor(
      'the old revision to say why',
      () => get(serving(ns, 'revisions', 'app-00001')),
      (r) => condition(r, 'ReservedInstanceReady')?.reason === 'NoTraffic',
    );
    const current = await waitFor('the new reserved Deployment', () =>
      getOrUndefined(deploymentsPath(ns, 'app-00002-reserved')),
    );
    expect(current.spec.replicas).toBe(1);
  });
});
