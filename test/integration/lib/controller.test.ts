import { Registry } from 'prom-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Controller } from '../../../lib/controller.ts';
import { Informer } from '../../../lib/kube/informer.ts';
import { LeaderElector } from '../../../lib/kube/leaderElection.ts';
import { createKubeRest } from '../../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';
import { createNamespace } from '../../support/kube.ts';
import { eventually } from './wait.ts';

const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** One operator replica: its own informer, lease candidate and controller, as separate processes would have. */
function replica(namespace: string, identity: string) {
  const reconciled: string[] = [];
  const informer = new Informer({
    client: api,
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    fieldSelector: 'metadata.name!=kube-root-ca.crt',
  });
  const elector = new LeaderElector({
    client: api,
    namespace,
    name: 'controllers',
    identity,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 200,
  });
  const controller = new Controller({
    name: 'configmaps',
    registry: new Registry(),
    leadership: elector,
    reconcile: async (key) => {
      reconciled.push(key);
    },
  });
  controller.watch(informer);
  informer.start();
  elector.start();
  void controller.start();
  const stop = async () => {
    await elector.stop();
    await controller.stop();
    await informer.stop();
  };
  stops.push(stop);
  return { identity, elector, reconciled, stop };
}

describe('Controller with leader election against the real API server', () => {
  it('reconciles only on the replica holding the lease; the successor picks up what changed meanwhile', async () => {
    const ns = await createNamespace('controller');
    const replicas = [replica(ns, 'a'), replica(ns, 'b')];
    await eventually(() => replicas.some((r) => r.elector.isLeader()), 'a leader');
    const leader = replicas.find((r) => r.elector.isLeader())!;
    const follower = replicas.find((r) => r !== leader)!;

    await api.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'first' } },
    });
    await eventually(() => leader.reconciled.includes(`${ns}/first`), 'the leader to reconcile first');
    expect(follower.reconciled).toEqual([]);

    await leader.stop();
    await api.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'second' } },
    });
    await eventually(() => follower.reconciled.length >= 2, 'the new leader to reconcile both keys');
    expect(follower.reconciled.sort()).toEqual([`${ns}/first`, `${ns}/second`]);
    expect(leader.reconciled).toEqual([`${ns}/first`]);
  });
});
