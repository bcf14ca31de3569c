// Controllers stopped part-way and started again converge without stamping out a revision twice,
// and leave the autoscaler's replica count alone when they update a Deployment.
import { describe, expect, it } from 'vitest';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  deploymentsPath,
  FakeDataPlane,
  get,
  getOrUndefined,
  isReadyNow,
  ksvc,
  list,
  podAutoscalersPath,
  putConfigMap,
  QUEUE_IMAGE,
  reconcileCount,
  recordingClient,
  serving,
  startInProcess,
  waitFor,
  type Running,
  cleanupsAfterEach,
} from './harness.ts';

const cleanups = cleanupsAfterEach();

async function start(ns: string, client = api): Promise<Running> {
  const running = await startInProcess(ns, { client });
  cleanups.push(() => running.stop());
  return running;
}

describe('Restarting the controllers', () => {
  it('converges after a stop mid-way with exactly one revision per generation', async () => {
    const ns = await createNamespace('restart');
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    const dataPlane = new FakeDataPlane(api, ns).start();
    cleanups.push(() => dataPlane.stop());
    dataPlane.held.add('app-00001');

    const first = await start(ns);
    await mustSucceed(apply(ns, ksvc('app', 'dev.local/app:1')));
    await waitFor('app-00001', () => getOrUndefined(serving(ns, 'revisions', 'app-00001')));
    await first.stop();

    // While no controller runs, the template changes.
    await mustSucceed(apply(ns, ksvc('app', 'dev.local/app:2')));
    expect((await list(serving(ns, 'revisions'))).map((r) => r.metadata.name)).toEqual(['app-00001']);

    const second = await start(ns);
    dataPlane.held.delete('app-00001');
    await waitFor(
      'app at generation 2 to be ready',
      () => getOrUndefined(serving(ns, 'services', 'app')),
      (s) => isReadyNow(s) && s.metadata.generation === 2 && s.status.latestReadyRevisionName === 'app-00002',
    );
    // The last ripples of the move: the old revision's autoscaler learns it is no longer routed.
    await waitFor(
      'app-00001 to be unreachable',
      () => get(podAutoscalersPath(ns, 'app-00001')),
      (pa) => pa.spec.reachability === 'Unreachable',
    );
    await waitFor(
      'app-00002 to be reachable',
      () => get(podAutoscalersPath(ns, 'app-00002')),
      (pa) => pa.spec.reachability === 'Reachable',
    );
    await second.stop();

    // A third instance finds everything in place and writes nothing, status included.
    const paths = [
      serving(ns, 'services', 'app'),
      serving(ns, 'configurations', 'app'),
      serving(ns, 'routes', 'app'),
      serving(ns, 'revisions', 'app-00001'),
      serving(ns, 'revisions', 'app-00002'),
      deploymentsPath(ns, 'app-00002-deployment'),
    ];
    const versions = async () =>
      Promise.all(paths.map(async (path) => (await get(path)).metadata.resourceVersion as string));
    const before = await versions();
    const recording = recordingClient(api);
    const third = await start(ns, recording.client);
    // One reconcile each for the Service, Configuration, Route and both revisions, at least.
    await waitFor(
      'the third instance to reconcile everything',
      () => reconcileCount(third.registry),
      (count) => count >= 5,
    );
    expect(recording.writes).toEqual([]);
    expect(await versions()).toEqual(before);
    const svc = await get(serving(ns, 'services', 'app'));
    expect(isReadyNow(svc)).toBe(true);
    expect(svc.status.latestCreatedRevisionName).toBe('app-00002');
    const revisions = await list(serving(ns, 'revisions'));
    expect(
      revisions.map((r) => [r.metadata.name, r.metadata.labels['serving.knative.dev/configurationGeneration']]).sort(),
    ).toEqual([
      ['app-00001', '1'],
      ['app-00002', '2'],
    ]);
    await third.stop();
  });

  it('updates a Deployment when config changes but keeps the replicas the autoscaler chose', async () => {
    const ns = await createNamespace('replicas');
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    const dataPlane = new FakeDataPlane(api, ns).start();
    cleanups.push(() => dataPlane.stop());
    await start(ns);
    await mustSucceed(apply(ns, ksvc('scaled')));
    await waitFor('scaled to be ready', () => getOrUndefined(serving(ns, 'services', 'scaled')), isReadyNow);

    // The autoscaler scales the Deployment through its scale subresource.
    const path = deploymentsPath(ns, 'scaled-00001-deployment');
    await api.request('PATCH', `${path}/scale`, {
      body: { spec: { replicas: 3 } },
      contentType: 'application/merge-patch+json',
    });
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': `${QUEUE_IMAGE}-2` });
    const updated = await waitFor(
      'the new queue-proxy image',
      () => get(path),
      (d) => d.spec.template.spec.containers[1].image === `${QUEUE_IMAGE}-2`,
    );
    expect(updated.spec.replicas).toBe(3);
  });
});
