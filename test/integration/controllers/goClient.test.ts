// What Knative's conformance suites do through client-go: read an object into Go structs and write
// it back. Go writes every field that is not omitempty even when zero, so whatever the webhook
// stores must already be in that form, or the round trip changes the spec, bumps the generation
// and stamps out a Revision nobody asked for.
import { describe, expect, it } from 'vitest';
import { apply, createNamespace, kubectl, mustSucceed } from '../../support/kube.ts';
import {
  api,
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

type Json = Record<string, any>;

const cleanups = cleanupsAfterEach();

async function setUp(prefix: string): Promise<string> {
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  const reconcilers = await startInProcess(ns);
  const dataPlane = new FakeDataPlane(api, ns).start();
  cleanups.push(
    () => reconcilers.stop(),
    () => dataPlane.stop(),
  );
  return ns;
}

/**
 * The body client-go sends for an object it read: the zero values of fields without omitempty
 * filled in (ObjectMeta.creationTimestamp is a struct and marshals as null; Container.name and
 * .resources; ContainerPort.containerPort; the port of a probe's tcpSocket, httpGet and grpc).
 */
function asGoClientSends(object: Json): Json {
  const out = structuredClone(object);
  const template = out.spec.template;
  template.metadata = { ...template.metadata, creationTimestamp: null };
  for (const container of [...template.spec.containers, ...(template.spec.initContainers ?? [])]) {
    container.name ??= '';
    container.resources ??= {};
    for (const port of container.ports ?? []) port.containerPort ??= 0;
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
      for (const action of [probe?.tcpSocket, probe?.httpGet, probe?.grpc]) if (action) action.port ??= 0;
    }
  }
  return out;
}

const revisionNames = async (ns: string) => (await list(serving(ns, 'revisions'))).map((r) => r.metadata.name).sort();

describe("a Go client's get-modify-update", () => {
  it("leaves a Service's generation alone, and a traffic-only update cuts no Revision", async () => {
    const ns = await setUp('go-svc');
    await mustSucceed(
      apply(
        ns,
        ksvc('hello', 'dev.local/hello:1', {
          template: {
            spec: { containers: [{ image: 'dev.local/hello:1', livenessProbe: { httpGet: { path: '/live' } } }] },
          },
        }),
      ),
    );
    const created = await waitFor(
      'hello to be ready',
      () => getOrUndefined(serving(ns, 'services', 'hello')),
      isReadyNow,
    );
    expect(created.metadata.generation).toBe(1);

    const put = await api.request<Json>('PUT', serving(ns, 'services', 'hello'), { body: asGoClientSends(created) });
    expect(put.spec).toEqual(created.spec);
    expect(put.metadata.generation).toBe(1);

    // kubectl validates strictly: the template's creationTimestamp: null must be a known field.
    await mustSucceed(kubectl(['replace', '-n', ns, '-f', '-'], JSON.stringify(asGoClientSends(put))));
    expect((await get(serving(ns, 'services', 'hello'))).metadata.generation).toBe(1);

    const retagged = asGoClientSends(await get(serving(ns, 'services', 'hello')));
    retagged.spec.traffic = [{ tag: 'current', latestRevision: true, percent: 100 }];
    const updated = await api.request<Json>('PUT', serving(ns, 'services', 'hello'), { body: retagged });
    expect(updated.metadata.generation).toBe(2);
    await waitFor(
      'hello to reconcile generation 2',
      () => getOrUndefined(serving(ns, 'services', 'hello')),
      (s) => isReadyNow(s) && s.status.traffic?.[0]?.tag === 'current',
    );
    expect((await get(serving(ns, 'configurations', 'hello'))).metadata.generation).toBe(1);
    expect(await revisionNames(ns)).toEqual(['hello-00001']);
  });

  it("leaves a Configuration's generation alone when only its labels change", async () => {
    const ns = await setUp('go-cfg');
    await mustSucceed(
      apply(ns, {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Configuration',
        metadata: { name: 'conf' },
        spec: { template: { spec: { containers: [{ image: 'dev.local/conf:1' }] } } },
      }),
    );
    const created = await waitFor(
      'conf to be ready',
      () => getOrUndefined(serving(ns, 'configurations', 'conf')),
      isReadyNow,
    );
    const relabelled = asGoClientSends(created);
    relabelled.metadata.labels = { ...relabelled.metadata.labels, 'label-x': 'abc' };
    const updated = await api.request<Json>('PUT', serving(ns, 'configurations', 'conf'), { body: relabelled });
    expect(updated.metadata.generation).toBe(1);
    expect(updated.metadata.labels['label-x']).toBe('abc');
    await waitFor('conf to stay ready', () => getOrUndefined(serving(ns, 'configurations', 'conf')), isReadyNow);
    expect(await revisionNames(ns)).toEqual(['conf-00001']);
  });
});

describe('a port given only a name, as Go sends it (containerPort 0)', () => {
  it('is accepted and serves h2c on the default port through every child', async () => {
    const ns = await setUp('go-h2c');
    await mustSucceed(
      apply(
        ns,
        ksvc('grpc', 'dev.local/grpc:1', {
          template: {
            spec: { containers: [{ image: 'dev.local/grpc:1', ports: [{ name: 'h2c', containerPort: 0 }] }] },
          },
        }),
      ),
    );
    await waitFor('grpc to be ready', () => getOrUndefined(serving(ns, 'services', 'grpc')), isReadyNow);
    const rev = await get(serving(ns, 'revisions', 'grpc-00001'));
    expect(rev.spec.containers[0].ports).toEqual([{ name: 'h2c', containerPort: 0 }]);
    const [app, queue] = (await get(deploymentsPath(ns, 'grpc-00001-deployment'))).spec.template.spec.containers;
    expect(app.ports).toEqual([expect.objectContaining({ name: 'user-port', containerPort: 8080 })]);
    expect(app.env).toContainEqual({ name: 'PORT', value: '8080' });
    expect(queue.ports[0]).toEqual(expect.objectContaining({ name: 'queue-port', containerPort: 8013 }));
    expect((await get(podAutoscalersPath(ns, 'grpc-00001'))).spec.protocolType).toBe('h2c');
    const splits = (await get(ingressesPath(ns, 'grpc'))).spec.rules[0].http.paths[0].splits;
    expect(splits.map((s: Json) => s.servicePort)).toEqual([81]);
  });
});
