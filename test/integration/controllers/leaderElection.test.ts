// Two controller instances sharing a Lease: only the holder reconciles; the other takes over
// when the holder stops.
import { describe, expect, it } from 'vitest';
import { LeaderElector } from '../../../lib/kube/leaderElection.ts';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  FakeDataPlane,
  getOrUndefined,
  isReadyNow,
  ksvc,
  putConfigMap,
  QUEUE_IMAGE,
  reconcileCount,
  serving,
  startInProcess,
  waitFor,
  cleanupsAfterEach,
} from './harness.ts';

const cleanups = cleanupsAfterEach();

async function instance(ns: string, identity: string) {
  const elector = new LeaderElector({
    client: api,
    namespace: ns,
    name: 'pilotlight-controller',
    identity,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 200,
  });
  const reconcilers = await startInProcess(ns, { leadership: elector });
  elector.start();
  const stop = async () => {
    await elector.stop();
    await reconcilers.stop();
  };
  cleanups.push(stop);
  return { identity, elector, registry: reconcilers.registry, stop };
}

describe('Leader election between controller instances', () => {
  it('lets only the Lease holder reconcile, and the other one take over when it stops', async () => {
    const ns = await createNamespace('leader');
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    const dataPlane = new FakeDataPlane(api, ns).start();
    cleanups.push(() => dataPlane.stop());
    const instances = [await instance(ns, 'a'), await instance(ns, 'b')];
    await waitFor('a leader', async () => instances.find((i) => i.elector.isLeader()));
    const leader = instances.find((i) => i.elector.isLeader())!;
    const follower = instances.find((i) => i !== leader)!;

    await mustSucceed(apply(ns, ksvc('first')));
    await waitFor('first to be ready', () => getOrUndefined(serving(ns, 'services', 'first')), isReadyNow);
    expect(await reconcileCount(leader.registry)).toBeGreaterThan(0);
    expect(await reconcileCount(follower.registry)).toBe(0);
    expect(follower.elector.isLeader()).toBe(false);

    await leader.stop();
    const byLeader = await reconcileCount(leader.registry);
    await mustSucceed(apply(ns, ksvc('second')));
    await waitFor(
      'second to be ready under the new leader',
      () => getOrUndefined(serving(ns, 'services', 'second')),
      isReadyNow,
    );
    expect(follower.elector.isLeader()).toBe(true);
    expect(await reconcileCount(follower.registry)).toBeGreaterThan(0);
    expect(await reconcileCount(leader.registry)).toBe(byLeader);
  });
});
