import { describe, expect, inject, it } from 'vitest';
import { EventRecorder } from '../../../lib/kube/events.ts';
import { createKubeRest } from '../../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';
import { createNamespace } from '../../support/kube.ts';

const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));

interface CoreEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
  involvedObject: { kind: string; name: string; namespace: string; uid: string };
  source: { component: string };
}

describe('EventRecorder', () => {
  it('writes Events for an object and counts repeats instead of duplicating them', async () => {
    const ns = await createNamespace('events');
    const configMap = await api.request<{
      apiVersion: string;
      kind: string;
      metadata: { name: string; namespace: string; uid: string };
    }>('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'subject' } },
    });
    const recorder = new EventRecorder({ client: api, component: 'pilotlight-test' });

    await Promise.all([
      recorder.event(configMap, 'Warning', 'SyncFailed', 'could not sync'),
      recorder.event(configMap, 'Warning', 'SyncFailed', 'could not sync'),
      recorder.event(configMap, 'Warning', 'SyncFailed', 'could not sync'),
      recorder.event(configMap, 'Normal', 'Synced', 'all good'),
    ]);

    const { items } = await api.request<{ items: CoreEvent[] }>('GET', `/api/v1/namespaces/${ns}/events`);
    const summary = items.map((e) => `${e.type} ${e.reason} ${e.message} x${e.count}`).sort();
    expect(summary).toEqual(['Normal Synced all good x1', 'Warning SyncFailed could not sync x3']);
    for (const event of items) {
      expect(event.involvedObject).toMatchObject({
        kind: 'ConfigMap',
        name: 'subject',
        namespace: ns,
        uid: configMap.metadata.uid,
      });
      expect(event.source.component).toBe('pilotlight-test');
    }
  });

  it('creates a fresh Event when the counted one has been deleted', async () => {
    const ns = await createNamespace('events-gone');
    const subject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'subject', namespace: ns, uid: 'u-1' } };
    const recorder = new EventRecorder({ client: api, component: 'pilotlight-test' });
    await recorder.event(subject, 'Normal', 'Created', 'made it');
    const first = await api.request<{ items: { metadata: { name: string } }[] }>(
      'GET',
      `/api/v1/namespaces/${ns}/events`,
    );
    await api.request('DELETE', `/api/v1/namespaces/${ns}/events/${first.items[0]!.metadata.name}`);

    await recorder.event(subject, 'Normal', 'Created', 'made it');

    const { items } = await api.request<{ items: CoreEvent[] }>('GET', `/api/v1/namespaces/${ns}/events`);
    expect(items.map((e) => `${e.reason} x${e.count}`)).toEqual(['Created x1']);
  });
});
