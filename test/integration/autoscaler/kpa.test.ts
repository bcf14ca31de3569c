// The KPA against the real API server: real queue-proxies on loopback under bounded load make
// the PodAutoscaler reconciler raise the Deployment's replicas through /scale and bring them
// down again; a stat pushed by an activator for a revision at zero scales it up at once.
// Time that matters to decisions is a FakeClock the test advances; the collector is driven by
// hand, once per simulated second, so no assertion depends on wall-clock timing.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAutoscaler } from '../../../autoscaler/runtime.ts';
import { StaticPodSource } from '../../../autoscaler/collector/podSource.ts';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';
import { EventRecorder } from '../../../lib/kube/events.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';
import { startQueueProxy, startSampleApp, type Proc } from '../../../harness/processes.ts';
import { createNamespace } from '../../support/kube.ts';
import { longInactiveStatus } from '../../../harness/podAutoscalerStatus.ts';
import { eventually } from '../lib/wait.ts';
import {
  api,
  createDeployment,
  createPodAutoscaler,
  eventReasons,
  nextSeq,
  pause,
  paStatus,
  recordingClient,
  replicasOf,
  startAutoscalerProcess,
  type RecordedCall,
} from './support.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  autoscaler: RunningAutoscaler;
  clock: FakeClock;
  pods: StaticPodSource;
  calls: RecordedCall[];
}

async function startHarness(ns: string): Promise<Harness> {
  const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
  const pods = new StaticPodSource();
  const calls: RecordedCall[] = [];
  const client = recordingClient(calls);
  const registry = new Registry();
  const config = parseAutoscalerConfig(undefined);
  const running = await startAutoscalerProcess(ns, {
    client,
    pods,
    clock,
    registry,
    config: () => config,
    recorder: new EventRecorder({ client: api, component: 'autoscaler', clock }),
    statPort: 0,
    statHost: '127.0.0.1',
    scrapeOnTimer: false,
  });
  cleanups.push(() => running.stop());
  return { autoscaler: running.autoscaler, clock, pods, calls };
}

/**
 * Simulated seconds until check passes; bounded. Each second has one scrape, half-way between
 * the ticks (which fall on whole seconds), as scrapes and ticks interleave in a running autoscaler.
 */
async function runUntil(h: Harness, what: string, check: () => Promise<boolean>, maxSeconds: number): Promise<number> {
  for (let second = 1; second <= maxSeconds; second++) {
    h.clock.advance(500);
    await h.autoscaler.collector.scrapeOnce();
    h.clock.advance(500);
    // Lets the reconciles a tick caused reach the API server before looking.
    await pause(100);
    if (await check()) return second;
  }
  throw new Error(`not within ${maxSeconds} simulated seconds: ${what}`);
}

/** Keeps `perProxy` requests in flight on each queue-proxy until stopped; bounded in count and time. */
function loadOn(servingPorts: number[], perProxy: number): () => Promise<void> {
  const stop = new AbortController();
  const deadline = AbortSignal.timeout(45_000);
  const signal = AbortSignal.any([stop.signal, deadline]);
  const workers = servingPorts.flatMap((port) =>
    Array.from({ length: perProxy }, async () => {
      for (let i = 0; i < 300 && !signal.aborted; i++) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/?sleep=400`, { signal });
          await response.arrayBuffer();
        } catch {
          // Aborted on stop; anything else shows up as missing load in the assertions.
        }
      }
    }),
  );
  return async () => {
    stop.abort();
    await Promise.all(workers);
  };
}

describe('KPA autoscaler against the real API server', () => {
  it('scales the Deployment up through /scale under load on real queue-proxies, and back down without it', async () => {
    const ns = await createNamespace('kpa');
    const revision = 'loaded-00001';
    const deployment = await createDeployment(ns, revision, 1);
    const h = await startHarness(ns);

    const procs: Proc[] = [];
    cleanups.push(() => Promise.all(procs.map((p) => p.stop())));
    const servingPorts: number[] = [];
    for (let i = 0; i < 2; i++) {
      const app = await startSampleApp();
      procs.push(app);
      const proxy = await startQueueProxy(app.port, { QUEUE_REPORTING_PERIOD: '100ms' });
      procs.push(proxy);
      servingPorts.push(proxy.servingPort);
      h.pods.set(ns, revision, [
        ...h.pods.readyPods(ns, revision),
        {
          name: `${revision}-pod-${i}`,
          ip: '127.0.0.1',
          port: proxy.autoscalerMetricsPort,
          startedAtMs: 0,
        },
      ]);
    }
    // Target one request per pod (100 % of 1), over the shortest stable window Knative allows,
    // with a 3 s panic window: a 1 s one would see only a scrape made within the tick's own second.
    await createPodAutoscaler(ns, revision, {
      'autoscaling.knative.dev/target': '1',
      'autoscaling.knative.dev/target-utilization-percentage': '100',
      'autoscaling.knative.dev/window': '6s',
      'autoscaling.knative.dev/panic-window-percentage': '50',
    });
    await eventually(
      async () => (await paStatus(ns, revision)).metricsServiceName === `${revision}-private`,
      'the PA to know its metrics service',
    );

    const stopLoad = loadOn(servingPorts, 4);
    cleanups.push(stopLoad);
    // Eight requests in flight over two pods: eight pods wanted; a little slack for the gaps
    // between one request and the next.
    await runUntil(h, 'replicas raised', async () => ((await replicasOf(ns, deployment)) ?? 0) >= 6, 30);
    const raised = (await replicasOf(ns, deployment))!;
    await eventually(
      async () => (await paStatus(ns, revision)).desiredScale === raised,
      'desiredScale to match the replicas',
    );
    expect(await paStatus(ns, revision)).toMatchObject({ desiredScale: raised, actualScale: 2, serviceName: revision });
    expect(h.calls.some((c) => c.method === 'PATCH' && c.path.endsWith(`/deployments/${deployment}/scale`))).toBe(true);

    await stopLoad();
    // Panic holds the count for a stable window after the last burst, then the stable average,
    // now all idle seconds, asks for nothing; halving the two ready pods allows one.
    await runUntil(h, 'replicas back down', async () => (await replicasOf(ns, deployment)) === 1, 40);
    await eventually(async () => (await paStatus(ns, revision)).desiredScale === 1, 'desiredScale to come down');
    expect(await paStatus(ns, revision)).toMatchObject({ desiredScale: 1, actualScale: 2 });
    expect(await eventReasons(ns)).toEqual(expect.arrayContaining(['PanicStarted', 'PanicEnded']));
  });

  it('scales a revision at zero up as soon as an activator pushes its first stat, without waiting for a tick', async () => {
    const ns = await createNamespace('kpa');
    const revision = 'idle-00001';
    const deployment = await createDeployment(ns, revision, 0);
    const h = await startHarness(ns);
    // Burst capacity −1 keeps the activator in the path, so the revision is not scraped and
    // its silence reads as no load.
    const pa = await createPodAutoscaler(ns, revision, { 'autoscaling.knative.dev/target-burst-capacity': '-1' });
    // A reconcile started from an older read puts its status on the latest object (as upstream's
    // generated reconciler does on a conflict), so write until ours is the one it starts from.
    const paPath = `/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/${ns}/podautoscalers/${revision}`;
    const wanted = longInactiveStatus(h.clock.now());
    await eventually(async () => {
      const current = await api.request<typeof pa>('GET', paPath);
      const active = current.status?.conditions?.find((c: { type: string }) => c.type === 'Active');
      if (active?.lastTransitionTime === wanted.conditions[0]!.lastTransitionTime) return true;
      await api.request('PUT', `${paPath}/status`, { body: { ...current, status: wanted } }).catch(() => undefined);
      return false;
    }, 'the long-inactive status to stick');
    await eventually(
      async () => (await paStatus(ns, revision)).metricsServiceName === `${revision}-private`,
      'the PA to know its metrics service',
    );
    // One tick decides zero from the silence.
    h.clock.advance(2000);
    await eventually(async () => (await paStatus(ns, revision)).desiredScale === 0, 'the decision to stay at zero');
    expect(await replicasOf(ns, deployment)).toBe(0);

    const frozenAt = h.clock.now();
    const pushedAt = nextSeq();
    const response = await fetch(`http://127.0.0.1:${h.autoscaler.statPort}/stats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { namespace: ns, revision, stat: { podName: 'activator-0', averageConcurrentRequests: 1, requestCount: 1 } },
      ]),
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 1 });

    await eventually(async () => (await replicasOf(ns, deployment)) === 1, 'the Deployment to be scaled to one');
    expect(h.clock.now()).toBe(frozenAt);
    const scaleCalls = h.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/scale'));
    expect(scaleCalls).toEqual([expect.objectContaining({ body: [{ op: 'add', path: '/spec/replicas', value: 1 }] })]);
    expect(scaleCalls[0]!.seq).toBeGreaterThan(pushedAt);
    await eventually(async () => (await paStatus(ns, revision)).desiredScale === 1, 'desiredScale 1 in the PA status');
    expect(await eventReasons(ns)).toContain('ScaledFromZero');
  });
});
