// Service → Configuration → Revision → Deployment/PodAutoscaler and Route → Ingress, reconciled
// in process against the real API server, with the data plane played by FakeDataPlane.
import { describe, expect, it } from 'vitest';
import type { DigestResolver } from '../../../controllers/revision/digests.ts';
import { apply, createNamespace, kubectl, mustSucceed } from '../../support/kube.ts';
import {
  api,
  condition,
  deploymentsPath,
  FakeDataPlane,
  get,
  getOrUndefined,
  ingressesPath,
  isReadyNow,
  ksvc,
  list,
  podAutoscalersPath,
  putConfigMap,
  QUEUE_IMAGE,
  serving,
  startInProcess,
  waitFor,
  cleanupsAfterEach,
} from './harness.ts';

const cleanups = cleanupsAfterEach();

async function setUp(prefix: string, config: { domain?: Record<string, string>; resolveDigest?: DigestResolver } = {}) {
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  if (config.domain) await putConfigMap(ns, 'config-domain', config.domain);
  const reconcilers = await startInProcess(ns, config.resolveDigest ? { resolveDigest: config.resolveDigest } : {});
  const dataPlane = new FakeDataPlane(api, ns).start();
  cleanups.push(
    () => reconcilers.stop(),
    () => dataPlane.stop(),
  );
  return { ns, reconcilers, dataPlane };
}

const controllerRef = (kind: string, object: any) => ({
  apiVersion: object.apiVersion,
  kind,
  name: object.metadata.name,
  uid: object.metadata.uid,
  controller: true,
  blockOwnerDeletion: true,
});

describe('Service reconciliation', () => {
  it('creates every child with Knative names, labels and owner references, and becomes Ready for kubectl wait', async () => {
    const { ns } = await setUp('svc-children', { domain: { 'example.com': '' } });
    await mustSucceed(apply(ns, ksvc('hello')));
    const svc = await get(serving(ns, 'services', 'hello'));

    const cfg = await waitFor('Configuration hello', () => getOrUndefined(serving(ns, 'configurations', 'hello')));
    expect(cfg.metadata.ownerReferences).toEqual([controllerRef('Service', svc)]);
    expect(cfg.metadata.labels).toMatchObject({
      'serving.knative.dev/service': 'hello',
      'serving.knative.dev/serviceUID': svc.metadata.uid,
    });
    expect(cfg.metadata.annotations['serving.knative.dev/routes']).toBe('hello');

    const route = await waitFor('Route hello', () => getOrUndefined(serving(ns, 'routes', 'hello')));
    expect(route.metadata.ownerReferences).toEqual([controllerRef('Service', svc)]);
    expect(route.spec.traffic).toEqual([{ configurationName: 'hello', latestRevision: true, percent: 100 }]);

    const rev = await waitFor('Revision hello-00001', () => getOrUndefined(serving(ns, 'revisions', 'hello-00001')));
    expect(rev.metadata.ownerReferences).toEqual([controllerRef('Configuration', cfg)]);
    expect(rev.metadata.labels).toMatchObject({
      'serving.knative.dev/configuration': 'hello',
      'serving.knative.dev/configurationUID': cfg.metadata.uid,
      'serving.knative.dev/configurationGeneration': '1',
      'serving.knative.dev/service': 'hello',
      'serving.knative.dev/serviceUID': svc.metadata.uid,
    });

    const deployment = await waitFor('Deployment hello-00001-deployment', () =>
      getOrUndefined(deploymentsPath(ns, 'hello-00001-deployment')),
    );
    expect(deployment.metadata.ownerReferences).toEqual([controllerRef('Revision', rev)]);
    expect(deployment.spec.selector).toEqual({ matchLabels: { 'serving.knative.dev/revisionUID': rev.metadata.uid } });
    expect(deployment.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['user-container', 'queue-proxy']);
    expect(deployment.spec.template.spec.containers[1].image).toBe(QUEUE_IMAGE);

    const pa = await waitFor('PodAutoscaler hello-00001', () => getOrUndefined(podAutoscalersPath(ns, 'hello-00001')));
    expect(pa.metadata.ownerReferences).toEqual([controllerRef('Revision', rev)]);
    expect(pa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'hello-00001-deployment',
    });

    const ingress = await waitFor('Ingress hello', () => getOrUndefined(ingressesPath(ns, 'hello')));
    expect(ingress.metadata.ownerReferences).toEqual([controllerRef('Route', route)]);
    expect(ingress.metadata.labels).toMatchObject({
      'serving.knative.dev/route': 'hello',
      'serving.knative.dev/routeNamespace': ns,
    });
    expect(ingress.spec.rules.find((r: any) => r.visibility === 'ExternalIP').hosts).toEqual([
      `hello.${ns}.example.com`,
    ]);

    const wait = await kubectl(['wait', '-n', ns, '--for=condition=Ready', '--timeout=30s', 'ksvc/hello']);
    expect(wait.stderr).toBe('');
    expect(wait.code).toBe(0);
    const ready = await get(serving(ns, 'services', 'hello'));
    expect(ready.status).toMatchObject({
      observedGeneration: 1,
      url: `http://hello.${ns}.example.com`,
      address: { url: `http://hello.${ns}.svc.cluster.local` },
      latestCreatedRevisionName: 'hello-00001',
      latestReadyRevisionName: 'hello-00001',
      traffic: [{ revisionName: 'hello-00001', latestRevision: true, percent: 100 }],
    });
    for (const type of ['ConfigurationsReady', 'RoutesReady', 'Ready'])
      expect(condition(ready, type)?.status).toBe('True');
    const revision = await get(serving(ns, 'revisions', 'hello-00001'));
    expect(revision.metadata.labels['serving.knative.dev/routingState']).toBe('active');
    expect(revision.metadata.annotations['serving.knative.dev/routes']).toBe('hello');
    // Written even though images under dev.local are never resolved to digests.
    expect(revision.status).toMatchObject({
      actualReplicas: 1,
      desiredReplicas: 1,
      containerStatuses: [{ name: 'user-container' }],
    });

    const reasons = async () => {
      const events = JSON.parse(await mustSucceed(kubectl(['get', 'events', '-n', ns, '-o', 'json']))).items as any[];
      return events.map((e) => `${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`);
    };
    const recorded = await waitFor('the events', reasons, (all) => all.some((e) => e.includes('LatestReadyUpdate')));
    expect(recorded).toEqual(
      expect.arrayContaining([
        'Service/hello Created: Created Configuration "hello"',
        'Service/hello Created: Created Route "hello"',
        'Configuration/hello Created: Created Revision "hello-00001"',
        'Configuration/hello LatestReadyUpdate: LatestReadyRevisionName updated to "hello-00001"',
        'Route/hello Created: Created Ingress "hello"',
        'Route/hello Created: Created placeholder service "hello"',
      ]),
    );
  });

  it('stays not Ready while the Deployment has no ready replicas', async () => {
    const { ns, dataPlane } = await setUp('svc-unready');
    dataPlane.held.add('slow-00001');
    await mustSucceed(apply(ns, ksvc('slow')));
    const rev = await waitFor(
      'the revision to be reconciled',
      () => getOrUndefined(serving(ns, 'revisions', 'slow-00001')),
      (r) => condition(r, 'ResourcesAvailable')?.reason === 'Deploying',
    );
    expect(condition(rev, 'ContainerHealthy')).toMatchObject({ status: 'Unknown', reason: 'Deploying' });
    expect(condition(rev, 'Ready')?.status).toBe('Unknown');
    const svc = await waitFor(
      'the service to report its configuration',
      () => getOrUndefined(serving(ns, 'services', 'slow')),
      (s) => s.status?.latestCreatedRevisionName === 'slow-00001',
    );
    expect(condition(svc, 'Ready')?.status).toBe('Unknown');
    expect(svc.status.latestReadyRevisionName).toBeUndefined();

    dataPlane.held.delete('slow-00001');
    await waitFor('the service to become ready', () => getOrUndefined(serving(ns, 'services', 'slow')), isReadyNow);
  });

  it('stamps out -00002 for a new template and moves latestRevision traffic only once it is ready', async () => {
    const { ns, dataPlane } = await setUp('svc-update');
    await mustSucceed(apply(ns, ksvc('app', 'dev.local/app:1')));
    await waitFor('app to be ready', () => getOrUndefined(serving(ns, 'services', 'app')), isReadyNow);

    dataPlane.held.add('app-00002');
    await mustSucceed(apply(ns, ksvc('app', 'dev.local/app:2')));
    const cfg = await waitFor(
      'latestCreated app-00002',
      () => getOrUndefined(serving(ns, 'configurations', 'app')),
      (c) => c.status?.latestCreatedRevisionName === 'app-00002',
    );
    expect(cfg.status.latestReadyRevisionName).toBe('app-00001');
    const rev2 = await get(serving(ns, 'revisions', 'app-00002'));
    expect(rev2.metadata.labels['serving.knative.dev/configurationGeneration']).toBe('2');
    expect(rev2.spec.containers[0].image).toBe('dev.local/app:2');
    // The new revision is routed (so kept warm) before it takes traffic.
    await waitFor(
      'app-00002 to be marked active',
      () => getOrUndefined(serving(ns, 'revisions', 'app-00002')),
      (r) => r.metadata.labels['serving.knative.dev/routingState'] === 'active',
    );
    const route = await get(serving(ns, 'routes', 'app'));
    expect(route.status.traffic).toEqual([{ revisionName: 'app-00001', latestRevision: true, percent: 100 }]);
    const ingress = await get(ingressesPath(ns, 'app'));
    expect(ingress.spec.rules[0].http.paths[0].splits.map((s: any) => s.serviceName)).toEqual(['app-00001']);
    const svc = await get(serving(ns, 'services', 'app'));
    expect(condition(svc, 'Ready')?.status).not.toBe('True');

    dataPlane.held.delete('app-00002');
    const migrated = await waitFor(
      'traffic on app-00002',
      () => getOrUndefined(serving(ns, 'services', 'app')),
      (s) => isReadyNow(s) && s.status.traffic?.[0]?.revisionName === 'app-00002',
    );
    expect(migrated.status.traffic).toEqual([{ revisionName: 'app-00002', latestRevision: true, percent: 100 }]);
    expect(migrated.status.latestReadyRevisionName).toBe('app-00002');
    const splits = (await get(ingressesPath(ns, 'app'))).spec.rules[0].http.paths[0].splits;
    expect(splits).toEqual([
      {
        serviceNamespace: ns,
        serviceName: 'app-00002',
        servicePort: 80,
        percent: 100,
        appendHeaders: { 'Knative-Serving-Revision': 'app-00002', 'Knative-Serving-Namespace': ns },
      },
    ]);
    // Once traffic has moved, the old revision is no longer routed.
    await waitFor(
      'app-00001 to go to reserve',
      () => getOrUndefined(serving(ns, 'revisions', 'app-00001')),
      (r) =>
        r.metadata.labels['serving.knative.dev/routingState'] === 'reserve' &&
        !r.metadata.annotations['serving.knative.dev/routes'],
    );
    const names = (await list(serving(ns, 'revisions'))).map((r) => r.metadata.name).sort();
    expect(names).toEqual(['app-00001', 'app-00002']);
  });

  it('splits 90/10 with tags into Ingress splits and tag hosts', async () => {
    const { ns } = await setUp('svc-split', { domain: { 'example.com': '' } });
    await mustSucceed(apply(ns, ksvc('split', 'dev.local/split:1')));
    await waitFor('split-00001 ready', () => getOrUndefined(serving(ns, 'services', 'split')), isReadyNow);
    await mustSucceed(
      apply(
        ns,
        ksvc('split', 'dev.local/split:2', {
          traffic: [
            { revisionName: 'split-00001', percent: 90, tag: 'stable' },
            { latestRevision: true, percent: 10, tag: 'candidate' },
          ],
        }),
      ),
    );
    const svc = await waitFor(
      'the split to be live',
      () => getOrUndefined(serving(ns, 'services', 'split')),
      (s) => isReadyNow(s) && s.status.traffic?.length === 2 && s.status.traffic[1].revisionName === 'split-00002',
    );
    expect(svc.status.traffic).toEqual([
      {
        tag: 'stable',
        revisionName: 'split-00001',
        latestRevision: false,
        percent: 90,
        url: `http://stable-split.${ns}.example.com`,
      },
      {
        tag: 'candidate',
        revisionName: 'split-00002',
        latestRevision: true,
        percent: 10,
        url: `http://candidate-split.${ns}.example.com`,
      },
    ]);

    const ingress = await get(ingressesPath(ns, 'split'));
    const external = (host: string) =>
      ingress.spec.rules.find((r: any) => r.visibility === 'ExternalIP' && r.hosts.includes(host));
    const splitsOf = (rule: any) => rule.http.paths[0].splits.map((s: any) => [s.serviceName, s.percent]);
    expect(splitsOf(external(`split.${ns}.example.com`))).toEqual([
      ['split-00001', 90],
      ['split-00002', 10],
    ]);
    expect(splitsOf(external(`stable-split.${ns}.example.com`))).toEqual([['split-00001', 100]]);
    expect(splitsOf(external(`candidate-split.${ns}.example.com`))).toEqual([['split-00002', 100]]);
    expect(JSON.parse(ingress.metadata.annotations['networking.internal.knative.dev/tag-to-host'])).toEqual({
      candidate: [`candidate-split.${ns}.example.com`],
      stable: [`stable-split.${ns}.example.com`],
    });
    const local = ingress.spec.rules.find(
      (r: any) => r.visibility === 'ClusterLocal' && r.hosts.includes(`stable-split.${ns}`),
    );
    expect(local.hosts).toEqual([
      `stable-split.${ns}`,
      `stable-split.${ns}.svc`,
      `stable-split.${ns}.svc.cluster.local`,
    ]);

    // A Kubernetes Service per target name, so each cluster-local host resolves to the gateway.
    const route = await get(serving(ns, 'routes', 'split'));
    const routeServices = () => list(`/api/v1/namespaces/${ns}/services?labelSelector=serving.knative.dev/route=split`);
    const toGateway = (services: any[]) =>
      services.every((s) => s.spec.externalName === 'gateway.pilotlight-system.svc.cluster.local');
    const services = await waitFor(
      'a Service per target name, at the gateway',
      routeServices,
      (all) => all.length === 3 && toGateway(all),
    );
    expect(services.map((s) => s.metadata.name).sort()).toEqual(['candidate-split', 'split', 'stable-split']);
    for (const service of services) {
      expect(service.metadata.ownerReferences).toEqual([controllerRef('Route', route)]);
      expect(service.metadata.labels).toMatchObject({
        'serving.knative.dev/route': 'split',
        'serving.knative.dev/service': 'split',
      });
      expect(service.spec).toMatchObject({
        type: 'ExternalName',
        ports: [{ name: 'http2', appProtocol: 'kubernetes.io/h2c', port: 80 }],
      });
    }
    expect(svc.status.address).toEqual({ url: `http://split.${ns}.svc.cluster.local` });

    // A tag taken out of the traffic takes its Service with it.
    await mustSucceed(
      apply(
        ns,
        ksvc('split', 'dev.local/split:2', {
          traffic: [
            { revisionName: 'split-00001', percent: 90, tag: 'stable' },
            { latestRevision: true, percent: 10 },
          ],
        }),
      ),
    );
    const left = await waitFor("the candidate tag's Service to go", routeServices, (all) => all.length === 2);
    expect(left.map((s) => s.metadata.name).sort()).toEqual(['split', 'stable-split']);
  });

  it("a Service that holds the route's name but is not the route's fails the Route instead of being taken over", async () => {
    const { ns } = await setUp('svc-squat');
    await api.request('POST', `/api/v1/namespaces/${ns}/services`, {
      body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'squat' }, spec: { ports: [{ port: 80 }] } },
    });
    await mustSucceed(apply(ns, ksvc('squat')));
    const svc = await waitFor(
      'the route to report the name taken',
      () => getOrUndefined(serving(ns, 'services', 'squat')),
      (s) => condition(s, 'RoutesReady')?.status === 'False',
    );
    expect(condition(svc, 'RoutesReady')).toMatchObject({
      reason: 'NotOwned',
      message: 'There is an existing placeholder Service "squat" that we do not own.',
    });
    expect((await get(`/api/v1/namespaces/${ns}/services/squat`)).spec.type).toBe('ClusterIP');
  });

  it('chains owner references from every child up to the Service, so deleting it leaves nothing behind', async () => {
    // The test control plane runs no garbage collector (no kube-controller-manager), so the
    // cascade itself cannot be watched here; what makes it happen is this chain of controller
    // references with blockOwnerDeletion, which is asserted instead.
    const { ns } = await setUp('svc-delete');
    await mustSucceed(apply(ns, ksvc('gone')));
    const svc = await waitFor('gone to be ready', () => getOrUndefined(serving(ns, 'services', 'gone')), isReadyNow);
    const owner = (object: any) =>
      object.metadata.ownerReferences.find((r: any) => r.controller && r.blockOwnerDeletion);
    const cfg = await get(serving(ns, 'configurations', 'gone'));
    const route = await get(serving(ns, 'routes', 'gone'));
    const rev = await get(serving(ns, 'revisions', 'gone-00001'));
    expect(owner(cfg).uid).toBe(svc.metadata.uid);
    expect(owner(route).uid).toBe(svc.metadata.uid);
    expect(owner(rev).uid).toBe(cfg.metadata.uid);
    expect(owner(await get(deploymentsPath(ns, 'gone-00001-deployment'))).uid).toBe(rev.metadata.uid);
    expect(owner(await get(podAutoscalersPath(ns, 'gone-00001'))).uid).toBe(rev.metadata.uid);
    expect(owner(await get(ingressesPath(ns, 'gone'))).uid).toBe(route.metadata.uid);

    await mustSucceed(kubectl(['delete', '-n', ns, 'ksvc/gone', '--wait=true']));
    expect(await getOrUndefined(serving(ns, 'services', 'gone'))).toBeUndefined();
    // What is left points at an owner that no longer exists: exactly what the collector deletes.
    expect(owner(await get(serving(ns, 'configurations', 'gone'))).uid).toBe(svc.metadata.uid);
  });
});

describe('Metadata propagation', () => {
  it('labels and annotations added to and removed from the Service follow on its Route and Configuration; system keys stay', async () => {
    const { ns } = await setUp('svc-meta');
    const withMeta = (meta: { labels?: Record<string, string>; annotations?: Record<string, string> }) => ({
      ...ksvc('meta'),
      metadata: { name: 'meta', ...meta },
    });
    await mustSucceed(apply(ns, withMeta({})));
    await waitFor('meta to be ready', () => getOrUndefined(serving(ns, 'services', 'meta')), isReadyNow);
    await waitFor("the route's Kubernetes Service", () => getOrUndefined(`/api/v1/namespaces/${ns}/services/meta`));

    await mustSucceed(apply(ns, withMeta({ labels: { juicy: 'jamba' }, annotations: { juicy: 'jamba' } })));
    const juicy = (child: any) =>
      child.metadata.labels.juicy === 'jamba' && child.metadata.annotations?.juicy === 'jamba';
    for (const plural of ['configurations', 'routes'])
      await waitFor(`the ${plural} to get them`, () => get(serving(ns, plural, 'meta')), juicy);
    // The route's Kubernetes Service takes the route's labels on, as Knative's TestLabelPropagation checks.
    const k8sService = await waitFor(
      "the route's Kubernetes Service to get the label",
      () => get(`/api/v1/namespaces/${ns}/services/meta`),
      (s) => s.metadata.labels.juicy === 'jamba',
    );
    expect(k8sService.metadata.labels).toMatchObject({
      'serving.knative.dev/service': 'meta',
      'serving.knative.dev/route': 'meta',
    });

    // kubectl apply drops what the last applied configuration had and this one lacks.
    await mustSucceed(apply(ns, withMeta({})));
    const svc = await get(serving(ns, 'services', 'meta'));
    const bare = (child: any) =>
      child.metadata.labels.juicy === undefined && child.metadata.annotations?.juicy === undefined;
    const cfg = await waitFor('the Configuration to lose them', () => get(serving(ns, 'configurations', 'meta')), bare);
    expect(cfg.metadata.labels).toEqual({
      'serving.knative.dev/service': 'meta',
      'serving.knative.dev/serviceUID': svc.metadata.uid,
    });
    expect(cfg.metadata.annotations).toMatchObject({
      'serving.knative.dev/routes': 'meta',
      'serving.knative.dev/creator': expect.any(String),
    });
    const route = await waitFor('the Route to lose them', () => get(serving(ns, 'routes', 'meta')), bare);
    expect(route.metadata.labels).toEqual({ 'serving.knative.dev/service': 'meta' });
  });

  it('a Service that pins only revisions keeps its Configuration routed, without a tug of war over the routes annotation', async () => {
    const { ns } = await setUp('svc-pinned');
    await mustSucceed(apply(ns, ksvc('pinned')));
    await waitFor('pinned to be ready', () => getOrUndefined(serving(ns, 'services', 'pinned')), isReadyNow);
    await mustSucceed(
      apply(ns, ksvc('pinned', undefined, { traffic: [{ revisionName: 'pinned-00001', percent: 100 }] })),
    );
    await waitFor(
      'the pinned traffic to be live',
      () => getOrUndefined(serving(ns, 'services', 'pinned')),
      (s) => isReadyNow(s) && s.metadata.generation === 2 && s.status.traffic?.[0]?.latestRevision === false,
    );
    const version = async () => (await get(serving(ns, 'configurations', 'pinned'))).metadata.resourceVersion as string;
    const before = await version();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await version()).toBe(before);
    expect(
      (await get(serving(ns, 'configurations', 'pinned'))).metadata.annotations['serving.knative.dev/routes'],
    ).toBe('pinned');
  });
});

describe('Bring-your-own revision names', () => {
  it('names the revision after the template, and fails clearly when that name is taken', async () => {
    const { ns } = await setUp('svc-byo');
    const named = (name: string, revision: string) => {
      const svc = ksvc(name);
      svc.spec.template.metadata = { name: revision };
      return svc;
    };
    await mustSucceed(apply(ns, named('byo', 'byo-blue')));
    const svc = await waitFor('byo to be ready', () => getOrUndefined(serving(ns, 'services', 'byo')), isReadyNow);
    expect(svc.status.latestReadyRevisionName).toBe('byo-blue');
    expect((await list(serving(ns, 'revisions'))).map((r) => r.metadata.name)).toEqual(['byo-blue']);

    // A revision nobody owns already holds the name.
    await api.request('POST', serving(ns, 'revisions'), {
      body: {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Revision',
        metadata: { name: 'taken-v1' },
        spec: { containers: [{ image: 'dev.local/other:1' }] },
      },
    });
    await mustSucceed(apply(ns, named('taken', 'taken-v1')));
    const failed = await waitFor(
      'taken to fail',
      () => getOrUndefined(serving(ns, 'services', 'taken')),
      (s) => condition(s, 'ConfigurationsReady')?.status === 'False',
    );
    expect(condition(failed, 'ConfigurationsReady')).toMatchObject({
      reason: 'RevisionFailed',
      message: 'Revision creation failed with message: revisions.serving.knative.dev "taken-v1" already exists.',
    });
    expect(condition(failed, 'Ready')?.status).toBe('False');
  });
});

describe('Revision health', () => {
  it('reports a missing queue-sidecar-image as a condition and recovers once it is configured', async () => {
    const ns = await createNamespace('rev-config');
    await putConfigMap(ns, 'config-deployment', { 'progress-deadline': '600s' });
    const reconcilers = await startInProcess(ns);
    const dataPlane = new FakeDataPlane(api, ns).start();
    cleanups.push(
      () => reconcilers.stop(),
      () => dataPlane.stop(),
    );
    await mustSucceed(apply(ns, ksvc('noimage')));
    const rev = await waitFor(
      'the revision to fail',
      () => getOrUndefined(serving(ns, 'revisions', 'noimage-00001')),
      (r) => condition(r, 'ResourcesAvailable')?.status === 'False',
    );
    expect(condition(rev, 'ResourcesAvailable')).toMatchObject({ reason: 'InvalidConfiguration' });
    expect(condition(rev, 'ResourcesAvailable')?.message).toContain('queue-sidecar-image');
    expect(await getOrUndefined(deploymentsPath(ns, 'noimage-00001-deployment'))).toBeUndefined();
    const svc = await waitFor(
      'the failure to reach the service',
      () => getOrUndefined(serving(ns, 'services', 'noimage')),
      (s) => condition(s, 'Ready')?.status === 'False',
    );
    expect(condition(svc, 'ConfigurationsReady')?.reason).toBe('RevisionFailed');

    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    await waitFor('the service to recover', () => getOrUndefined(serving(ns, 'services', 'noimage')), isReadyNow);
  });

  it('runs images by the digest their tag resolved to, and fails a missing image as ContainerMissing up to the Service', async () => {
    const digest = `registry.example.com/app@sha256:${'e'.repeat(64)}`;
    const resolveDigest: DigestResolver = async (image, options) => {
      if (options.registriesSkippingTagResolving.includes(image.split('/')[0]!)) return undefined;
      if (image === 'registry.example.com/app:1') return digest;
      throw new Error('GET https://registry.example.com/v2/missing/manifests/1: unexpected status code 404');
    };
    const { ns } = await setUp('rev-digest', { resolveDigest });
    await mustSucceed(
      apply(ns, [ksvc('pinned', 'registry.example.com/app:1'), ksvc('missing', 'registry.example.com/missing:1')]),
    );
    const deployment = await waitFor('the pinned deployment', () =>
      getOrUndefined(deploymentsPath(ns, 'pinned-00001-deployment')),
    );
    expect(deployment.spec.template.spec.containers[0].image).toBe(digest);
    const pinned = await waitFor(
      'the pinned service',
      () => getOrUndefined(serving(ns, 'services', 'pinned')),
      isReadyNow,
    );
    expect(pinned.metadata.name).toBe('pinned');
    const rev = await get(serving(ns, 'revisions', 'pinned-00001'));
    expect(rev.status.containerStatuses).toEqual([{ name: 'user-container', imageDigest: digest }]);

    const message =
      'Unable to fetch image "registry.example.com/missing:1": failed to resolve image to digest: GET https://registry.example.com/v2/missing/manifests/1: unexpected status code 404';
    const failed = await waitFor(
      'the missing image to fail its revision',
      () => getOrUndefined(serving(ns, 'revisions', 'missing-00001')),
      (r) => condition(r, 'Ready')?.status === 'False',
    );
    expect(condition(failed, 'ContainerHealthy')).toMatchObject({
      status: 'False',
      reason: 'ContainerMissing',
      message,
    });
    expect(await getOrUndefined(deploymentsPath(ns, 'missing-00001-deployment'))).toBeUndefined();
    const svc = await waitFor(
      'the failure on the service and both children',
      () => getOrUndefined(serving(ns, 'services', 'missing')),
      (s) => ['Ready', 'ConfigurationsReady', 'RoutesReady'].every((type) => condition(s, type)?.status === 'False'),
    );
    expect(condition(svc, 'ConfigurationsReady')?.message).toBe(
      `Revision "missing-00001" failed with message: ${message}.`,
    );
  });

  it('names a crash loop ExitCode<N> and an image pull failure by its reason', async () => {
    const { ns, dataPlane } = await setUp('rev-crash');
    dataPlane.held.add('crash-00001');
    dataPlane.held.add('pull-00001');
    await mustSucceed(apply(ns, [ksvc('crash'), ksvc('pull', 'dev.local/missing:1')]));
    for (const name of ['crash-00001', 'pull-00001']) {
      const deployment = await waitFor(`${name} deployment`, () =>
        getOrUndefined(deploymentsPath(ns, `${name}-deployment`)),
      );
      const rev = await get(serving(ns, 'revisions', name));
      const user =
        name === 'crash-00001'
          ? {
              name: 'user-container',
              ready: false,
              restartCount: 3,
              image: 'x',
              imageID: '',
              state: { waiting: { reason: 'CrashLoopBackOff' } },
              lastState: {
                terminated: { exitCode: 2, reason: 'Error', message: 'listen tcp :8080: bind: address in use' },
              },
            }
          : {
              name: 'user-container',
              ready: false,
              restartCount: 0,
              image: 'x',
              imageID: '',
              state: {
                waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "dev.local/missing:1"' },
              },
            };
      const pod = await api.request<any>('POST', `/api/v1/namespaces/${ns}/pods`, {
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${name}-pod`, labels: deployment.spec.template.metadata.labels },
          spec: { containers: [{ name: 'user-container', image: 'x' }] },
        },
      });
      await api.request('PUT', `/api/v1/namespaces/${ns}/pods/${name}-pod/status`, {
        body: {
          ...pod,
          status: {
            phase: 'Running',
            conditions: [{ type: 'PodScheduled', status: 'True' }],
            containerStatuses: [user],
          },
        },
      });
      expect(rev.metadata.uid).toBe(deployment.spec.selector.matchLabels['serving.knative.dev/revisionUID']);
    }
    const crash = await waitFor(
      'crash to report its exit code',
      () => getOrUndefined(serving(ns, 'revisions', 'crash-00001')),
      (r) => condition(r, 'ContainerHealthy')?.status === 'False',
    );
    expect(condition(crash, 'ContainerHealthy')).toMatchObject({
      reason: 'ExitCode2',
      message: 'Container failed with: listen tcp :8080: bind: address in use',
    });
    expect(condition(crash, 'Ready')?.status).toBe('False');
    const pull = await waitFor(
      'pull to report the image',
      () => getOrUndefined(serving(ns, 'revisions', 'pull-00001')),
      (r) => condition(r, 'ResourcesAvailable')?.status === 'False',
    );
    expect(condition(pull, 'ResourcesAvailable')).toMatchObject({
      reason: 'ImagePullBackOff',
      message: 'Back-off pulling image "dev.local/missing:1"',
    });
    // As Knative's conformance waits for: the Service, its Configuration and its Route all failed.
    const svc = await waitFor(
      'crash failure on the service and both children',
      () => getOrUndefined(serving(ns, 'services', 'crash')),
      (s) => ['Ready', 'ConfigurationsReady', 'RoutesReady'].every((type) => condition(s, type)?.status === 'False'),
    );
    expect(condition(svc, 'ConfigurationsReady')?.message).toBe(
      'Revision "crash-00001" failed with message: Container failed with: listen tcp :8080: bind: address in use.',
    );
    expect(condition(svc, 'RoutesReady')).toMatchObject({
      reason: 'RevisionMissing',
      message: 'Configuration "crash" does not have any ready Revision.',
    });
    const route = await get(serving(ns, 'routes', 'crash'));
    expect(condition(route, 'AllTrafficAssigned')).toMatchObject({ status: 'False', reason: 'RevisionMissing' });
    expect(condition(route, 'Ready')?.status).toBe('False');
  });
});
