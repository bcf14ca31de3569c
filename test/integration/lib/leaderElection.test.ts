import { afterEach, describe, expect, inject, it } from 'vitest';
import { LeaderElector, type LeaseSpec } from '../../../lib/kube/leaderElection.ts';
import { createKubeRest } from '../../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';
import { createNamespace } from '../../support/kube.ts';
import { eventually } from './wait.ts';

const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));
const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200 };
const electors: LeaderElector[] = [];

afterEach(async () => {
  await Promise.all(electors.splice(0).map((elector) => elector.stop()));
});

function candidate(namespace: string, identity: string, log: string[]): LeaderElector {
  const elector = new LeaderElector({
    client: api,
    namespace,
    name: 'pilotlight-controller',
    identity,
    ...timing,
    onStartedLeading: () => {
      log.push(`${identity} started`);
    },
    onStoppedLeading: () => {
      log.push(`${identity} stopped`);
    },
  });
  electors.push(elector);
  return elector;
}

const leaseSpec = async (namespace: string) =>
  (
    await api.request<{ spec: LeaseSpec }>(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/pilotlight-controller`,
    )
  ).spec;

describe('LeaderElector on a real Lease', () => {
  it('lets exactly one of two replicas lead, and hands over at once when the leader stops', async () => {
    const ns = await createNamespace('leader');
    const log: string[] = [];
    const replicas = [candidate(ns, 'replica-a', log), candidate(ns, 'replica-b', log)];
    for (const replica of replicas) replica.start();
    await eventually(() => replicas.some((r) => r.isLeader()), 'a leader');

    // Several renew periods later there is still exactly one leader, and the Lease names it.
    const leader = replicas.find((r) => r.isLeader())!;
    const follower = replicas.find((r) => r !== leader)!;
    for (let check = 0; check < 5; check++) {
      await new Promise((resolve) => setTimeout(resolve, timing.retryPeriodMs));
      expect(replicas.filter((r) => r.isLeader())).toEqual([leader]);
    }
    const held = await leaseSpec(ns);
    expect(held.holderIdentity).toBe(leader.identity);
    expect(held.leaseDurationSeconds).toBe(3);
    expect(held.leaseTransitions).toBe(0);
    expect(Date.parse(held.renewTime!)).toBeGreaterThanOrEqual(Date.parse(held.acquireTime!));

    await leader.stop();
    expect(leader.isLeader()).toBe(false);
    // Released, not expired: the follower must win before the old lease could have run out.
    await eventually(() => follower.isLeader(), 'the follower to take over', timing.leaseDurationMs / 2);
    const taken = await leaseSpec(ns);
    expect(taken.holderIdentity).toBe(follower.identity);
    expect(taken.leaseTransitions).toBe(1);
    expect(log).toEqual([`${leader.identity} started`, `${leader.identity} stopped`, `${follower.identity} started`]);
  });

  it("waits for a crashed holder's lease to expire before taking over", async () => {
    const ns = await createNamespace('leader-expiry');
    const now = new Date().toISOString().replace('Z', '000Z');
    await api.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'pilotlight-controller' },
        spec: {
          holderIdentity: 'crashed',
          leaseDurationSeconds: 4,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 4,
        },
      },
    });
    const log: string[] = [];
    const successor = candidate(ns, 'successor', log);
    successor.start();
    // A few retry periods in, well inside the crashed holder's 4 s lease, it must still be waiting.
    await new Promise((resolve) => setTimeout(resolve, 3 * timing.retryPeriodMs));
    expect(successor.isLeader()).toBe(false);
    expect((await leaseSpec(ns)).holderIdentity).toBe('crashed');

    await eventually(() => successor.isLeader(), 'the successor to lead after expiry', 10_000);
    const spec = await leaseSpec(ns);
    expect(spec.holderIdentity).toBe('successor');
    expect(spec.leaseTransitions).toBe(5);
    expect(log).toEqual(['successor started']);
  });
});
