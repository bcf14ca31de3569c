// Two autoscaler replicas against the real API server: only the one holding the Lease writes
// and takes activator stats; the other takes over when the leader steps down.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { StaticPodSource } from '../../../autoscaler/collector/podSource.ts';
import { startAutoscaler, type RunningAutoscaler } from '../../../autoscaler/runtime.ts';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';
import { LeaderElector } from '../../../lib/kube/leaderElection.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';
import { createNamespace } from '../../support/kube.ts';
import { eventually } from '../lib/wait.ts';
import {
  createDeployment,
  createPodAutoscaler,
  paStatus,
  recordingClient,
  startedInformers,
  startServerlessServiceProcess,
  type RecordedCall,
} from './support.ts';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

interface Replica {
  elector: LeaderElector;
  autoscaler: RunningAutoscaler;
  calls: RecordedCall[];
  stopped: boolean;
  stop(): Promise<void>;
}

async function replica(ns: string, identity: string): Promise<Replica> {
  const calls: RecordedCall[] = [];
  const client = recordingClient(calls);
  const elector = new LeaderElector({
    client,
    namespace: ns,
    name: 'pilotlight-autoscaler',
    identity,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 200,
  });
  const config = parseAutoscalerConfig(undefined);
  const informers = startedInformers();
  const autoscaler = await startAutoscaler({
    client,
    informers,
    namespace: ns,
    pods: new StaticPodSource(),
    clock: new FakeClock(Date.now()),
    registry: new Registry(),
    config: () => config,
    leadership: elector,
    statPort: 0,
    statHost: '127.0.0.1',
    scrapeOnTimer: false,
  });
  elector.start();
  const r: Replica = {
    elector,
    autoscaler,
    calls,
    stopped: false,
    async stop() {
      if (r.stopped) return;
      r.stopped = true;
      await elector.stop();
      await autoscaler.stop();
      await informers.stop();
    },
  };
  stops.push(() => r.stop());
  return r;
}

function push(r: Replica, ns: string, revision: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${r.autoscaler.statPort}/stats`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ namespace: ns, revision, stat: { averageConcurrentRequests: 1, requestCount: 1 } }]),
  });
}

describe('autoscaler replicas with leader election', () => {
  it('lets only the leader write and record stats, and hands over when it stops', async () => {
    const ns = await createNamespace('kpa-ha');
    const revision = 'ha-00001';
    await createDeployment(ns, revision, 1);
    const sks = startServerlessServiceProcess(ns);
    stops.push(() => sks.stop());
    const replicas = [await replica(ns, 'a'), await replica(ns, 'b')];
    await eventually(() => replicas.some((r) => r.elector.isLeader()), 'a leader');
    const leader = replicas.find((r) => r.elector.isLeader())!;
    const follower = replicas.find((r) => r !== leader)!;

    await createPodAutoscaler(ns, revision, { 'autoscaling.knative.dev/target-burst-capacity': '-1' });
    await eventually(
      async () => (await paStatus(ns, revision)).metricsServiceName === `${revision}-private`,
      'the leader to reconcile the PA',
    );
    expect((await push(follower, ns, revision)).status).toBe(503);
    const accepted = await push(leader, ns, revision);
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toEqual({ accepted: 1 });
    const writes = (r: Replica) => r.calls.filter((c) => !c.path.includes('/leases'));
    expect(writes(leader).length).toBeGreaterThan(0);
    expect(writes(follower)).toEqual([]);

    await leader.stop();
    await eventually(() => follower.elector.isLeader(), 'the follower to take the lease');
    // The new leader starts from the PA it finds and takes stats from then on.
    await eventually(
      async () => ((await (await push(follower, ns, revision)).json()) as { accepted?: number }).accepted === 1,
      'the new leader to accept stats',
    );
  });
});
