import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Informer, type InformerLifecycle } from '../../../lib/kube/informer.ts';
import { createKubeRest } from '../../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';
import { createNamespace } from '../../support/kube.ts';
import { eventually } from './wait.ts';

const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));
const running: Informer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((informer) => informer.stop()));
});

function startInformer<T extends KubernetesObject>(informer: Informer<T>): string[] {
  const seen: string[] = [];
  informer.addHandlers({
    onAdd: (o) => seen.push(`add ${o.metadata?.name}`),
    onUpdate: (previous, current) =>
      seen.push(
        `update ${current.metadata?.name} ${JSON.stringify(previous.metadata?.labels ?? {})}->${JSON.stringify(current.metadata?.labels ?? {})}`,
      ),
    onDelete: (o) => seen.push(`delete ${o.metadata?.name}`),
  });
  informer.start();
  running.push(informer as unknown as Informer);
  return seen;
}

const configMap = (namespace: string, name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { namespace, name, labels },
  data: { k: 'v' },
});

async function relabel(path: string, labels: Record<string, string>): Promise<void> {
  await api.request('PATCH', path, { body: { metadata: { labels } }, contentType: 'application/merge-patch+json' });
}

describe('Informer against the real API server', () => {
  it('lists existing ConfigMaps, then delivers add, update and delete from the watch', async () => {
    const ns = await createNamespace('informer-cm');
    const collection = `/api/v1/namespaces/${ns}/configmaps`;
    await api.request('POST', collection, { body: configMap(ns, 'before') });
    const informer = new Informer({ client: api, path: collection, fieldSelector: 'metadata.name!=kube-root-ca.crt' });
    const seen = startInformer(informer);
    await informer.whenSynced();
    expect(seen).toEqual(['add before']);

    await api.request('POST', collection, { body: configMap(ns, 'after') });
    await relabel(`${collection}/after`, { step: 'two' });
    await api.request('DELETE', `${collection}/before`);
    await eventually(() => seen.length >= 4, 'four events');

    expect(seen).toEqual(['add before', 'add after', 'update after {}->{"step":"two"}', 'delete before']);
    expect(informer.lister.get(`${ns}/after`)?.metadata?.labels).toEqual({ step: 'two' });
    expect(informer.lister.get(`${ns}/before`)).toBeUndefined();
    expect(informer.lister.listNamespace(ns).map((o) => o.metadata?.name)).toEqual(['after']);
  });

  it('watches a Knative CRD cluster-wide and indexes it by namespace', async () => {
    const [ns, otherNs] = await Promise.all([createNamespace('informer-route'), createNamespace('informer-route')]);
    const informer = new Informer({
      client: api,
      path: '/apis/serving.knative.dev/v1/routes',
      labelSelector: 'informer-test=yes',
    });
    const seen = startInformer(informer);
    await informer.whenSynced();

    const route = (namespace: string, name: string) => ({
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Route',
      metadata: { namespace, name, labels: { 'informer-test': 'yes' } },
      spec: { traffic: [{ configurationName: name, percent: 100 }] },
    });
    await api.request('POST', `/apis/serving.knative.dev/v1/namespaces/${ns}/routes`, { body: route(ns, 'web') });
    await api.request('POST', `/apis/serving.knative.dev/v1/namespaces/${otherNs}/routes`, {
      body: route(otherNs, 'api'),
    });
    await relabel(`/apis/serving.knative.dev/v1/namespaces/${ns}/routes/web`, { 'informer-test': 'yes', rev: '2' });
    await api.request('DELETE', `/apis/serving.knative.dev/v1/namespaces/${otherNs}/routes/api`);
    await eventually(() => seen.length >= 4, 'four Route events');

    expect(seen).toEqual([
      'add web',
      'add api',
      'update web {"informer-test":"yes"}->{"informer-test":"yes","rev":"2"}',
      'delete api',
    ]);
    const cached = informer.lister.get(`${ns}/web`) as { kind?: string; spec?: { traffic?: unknown[] } } | undefined;
    expect(cached?.kind).toBe('Route');
    expect(cached?.spec?.traffic).toHaveLength(1);
    expect(informer.lister.listNamespace(otherNs)).toEqual([]);
  });

  it('resumes after each server-side watch timeout without relisting, losing or repeating events', async () => {
    const ns = await createNamespace('informer-resume');
    const collection = `/api/v1/namespaces/${ns}/configmaps`;
    const lifecycle: InformerLifecycle['type'][] = [];
    const informer = new Informer({
      client: api,
      path: collection,
      fieldSelector: 'metadata.name!=kube-root-ca.crt',
      watchTimeoutSeconds: 1,
      backoff: { initialMs: 10, maxMs: 50 },
      onLifecycle: (event) => lifecycle.push(event.type),
    });
    const seen = startInformer(informer);
    await informer.whenSynced();

    const watches = () => lifecycle.filter((t) => t === 'watching').length;
    const expected: string[] = [];
    for (let round = 0; round < 3; round++) {
      const before = watches();
      await eventually(() => watches() > before, `watch #${before + 1}`);
      await api.request('POST', collection, { body: configMap(ns, `cm-${round}`) });
      expected.push(`add cm-${round}`);
      if (round > 0) {
        await relabel(`${collection}/cm-${round - 1}`, { round: String(round) });
        expected.push(`update cm-${round - 1} {}->{"round":"${round}"}`);
      }
    }
    await api.request('DELETE', `${collection}/cm-0`);
    expected.push('delete cm-0');
    const before = watches();
    await eventually(
      () => seen.length >= expected.length && watches() > before + 1,
      'all events and two more reconnects',
    );

    expect(seen).toEqual(expected);
    expect(lifecycle.filter((t) => t === 'listed')).toHaveLength(1);
    expect(lifecycle).not.toContain('expired');
    expect(watches()).toBeGreaterThanOrEqual(5);
    const live = await api.request<{ items: KubernetesObject[] }>('GET', collection, {
      query: { fieldSelector: 'metadata.name!=kube-root-ca.crt' },
    });
    expect(
      informer.lister
        .list()
        .map((o) => `${o.metadata?.name}@${o.metadata?.resourceVersion}`)
        .sort(),
    ).toEqual(live.items.map((o) => `${o.metadata?.name}@${o.metadata?.resourceVersion}`).sort());
  });
});
