// Old revisions are deleted as config-gc says, and never the one traffic points at.
import { describe, expect, it } from 'vitest';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  FakeDataPlane,
  getOrUndefined,
  isReadyNow,
  ksvc,
  list,
  putConfigMap,
  QUEUE_IMAGE,
  serving,
  startInProcess,
  waitFor,
  cleanupsAfterEach,
} from './harness.ts';

const cleanups = cleanupsAfterEach();

describe('revision garbage collection', () => {
  it('keeps max-non-active-revisions old revisions besides the routed one', async () => {
    const ns = await createNamespace('gc');
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    await putConfigMap(ns, 'config-gc', {
      'min-non-active-revisions': '0',
      'max-non-active-revisions': '1',
      'retain-since-create-time': 'disabled',
      'retain-since-last-active-time': 'disabled',
    });
    const dataPlane = new FakeDataPlane(api, ns).start();
    cleanups.push(() => dataPlane.stop());
    const running = await startInProcess(ns);
    cleanups.push(() => running.stop());

    for (const generation of [1, 2, 3, 4]) {
      await mustSucceed(apply(ns, ksvc('app', `dev.local/app:${generation}`)));
      await waitFor(
        `app at generation ${generation} to be ready`,
        () => getOrUndefined(serving(ns, 'services', 'app')),
        (svc) => isReadyNow(svc) && svc.status?.latestReadyRevisionName === `app-0000${generation}`,
      );
    }
    const names = async () => (await list(serving(ns, 'revisions'))).map((r) => r.metadata.name as string).sort();
    await expect.poll(names, { timeout: 20_000 }).toEqual(['app-00003', 'app-00004']);
    const routed = await getOrUndefined(serving(ns, 'revisions', 'app-00004'));
    expect(routed?.metadata.labels['serving.knative.dev/routingState']).toBe('active');
  });
});
