// A revision with a reserved burstable instance, through a real activator: while it has no
// healthy standard pod its requests go to the reserved pod at once (never more than that pod's
// containerConcurrency; the rest are held), the autoscaler still hears about them, and once a
// standard pod answers its probe new requests go there while those on the reserved pod finish.
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStatServer, listenStatServer, STAT_PATH } from '../../../autoscaler/collector/statServer.ts';
import type { Stat } from '../../../autoscaler/metrics/revisionMetrics.ts';
import {
  appStats,
  eventually,
  heldRequests,
  putRevision,
  send,
  startActivator,
  startPod,
  type ActivatorProc,
  type Pod,
  type RevisionSpec,
} from '../../../harness/activator.ts';

async function metricsText(activator: ActivatorProc): Promise<string> {
  const res = await request(`http://127.0.0.1:${activator.metricsPort}/metrics`);
  return await res.body.text();
}

/** A per-revision sample's value, or undefined when the revision has none. */
async function revisionMetric(
  activator: ActivatorProc,
  name: string,
  revision: string,
  extraLabels = '',
): Promise<number | undefined> {
  const line = (await metricsText(activator))
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(`kn_revision_name="${revision}"`) && l.includes(extraLabels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function reservedPodAccepted(activator: ActivatorProc, pod: Pod): boolean {
  return activator.lines.some(
    (l) =>
      l.message === 'pod answered its probe; releasing held requests' && l.pod === pod.address && l.reserved === true,
  );
}

function modeChanges(activator: ActivatorProc, revision: string): Array<[unknown, unknown]> {
  return activator.lines
    .filter((l) => l.message === 'serving mode changed' && l.revision === `default/${revision}`)
    .map((l) => [l.from, l.to]);
}

const pathOf = (body: string) => (JSON.parse(body) as { path: string }).path;

describe('activator: reserved burstable instance', () => {
  const received: Array<[string, Stat]> = [];
  const statServer = createStatServer({
    receiver: {
      push: (key, stat) => {
        received.push([key, stat]);
        return true;
      },
    },
  });
  let activator: ActivatorProc;
  const pods: Pod[] = [];
  const client = new Agent({ connections: 20 });

  const pod = async () => {
    const started = await startPod();
    pods.push(started);
    return started;
  };

  beforeAll(async () => {
    const statsPort = await listenStatServer(statServer, 0, '127.0.0.1');
    activator = await startActivator(['--stats-url', `http://127.0.0.1:${statsPort}${STAT_PATH}`]);
  });
  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await Promise.all(pods.splice(0).map((p) => p.stop()));
    statServer.closeAllConnections();
    await new Promise((resolve) => statServer.close(resolve));
  });

  describe('with no standard pod', () => {
    afterEach(async () => {
      await Promise.all(pods.splice(0).map((p) => p.stop()));
    });

    it('answers the first request from the reserved pod and still tells the autoscaler about it', async () => {
      const reserved = await pod();
      await putRevision(activator, 'first-00001', {
        containerConcurrency: 0,
        pods: [],
        reserved: { containerConcurrency: 2, pods: [reserved.address] },
      });
      await eventually('the reserved pod answered its probe', () => reservedPodAccepted(activator, reserved));
      expect(await revisionMetric(activator, 'pilotlight_activator_serving_from_reserved', 'first-00001')).toBe(1);
      expect(modeChanges(activator, 'first-00001')).toEqual([['none', 'reserved']]);

      const answer = await send(activator, client, 'first-00001', '/first');

      expect(answer.status).toBe(200);
      expect(pathOf(answer.body)).toBe('/first');
      expect((await appStats(reserved.app)).requests).toBe(1);
      await eventually('the autoscaler received the first-request stat', () =>
        received.some(([key]) => key === 'default/first-00001'),
      );
      const [, stat] = received.find(([key]) => key === 'default/first-00001')!;
      expect(stat).toMatchObject({ podName: 'activator-test', averageConcurrentRequests: 1, requestCount: 1 });
    });

    it('never sends the reserved pod more than its containerConcurrency; the overflow is held until a standard pod is ready', async () => {
      const reserved = await pod();
      await putRevision(activator, 'burst-00001', {
        containerConcurrency: 0,
        pods: [],
        reserved: { containerConcurrency: 1, pods: [reserved.address] },
      });
      await eventually('the reserved pod answered its probe', () => reservedPodAccepted(activator, reserved));

      const answers = Promise.all(
        Array.from({ length: 5 }, (_, i) => send(activator, client, 'burst-00001', `/burst/${i}?sleep=3000`)),
      );
      await eventually(
        'one request on the reserved pod and four held',
        async () =>
          (await appStats(reserved.app)).inFlight === 1 && (await heldRequests(activator, 'burst-00001')) === 4,
      );

      const standard = await pod();
      await putRevision(activator, 'burst-00001', {
        containerConcurrency: 0,
        pods: [standard.address],
        reserved: { containerConcurrency: 1, pods: [reserved.address] },
      });
      const results = await answers;

      expect(results.map((r) => r.status)).toEqual(Array(5).fill(200));
      expect(new Set(results.map((r) => pathOf(r.body))).size).toBe(5);
      const [onReserved, onStandard] = await Promise.all([appStats(reserved.app), appStats(standard.app)]);
      expect(onReserved.maxInFlight).toBe(1);
      expect(onReserved.requests + onStandard.requests).toBe(5);
      expect(onStandard.requests).toBeGreaterThan(0);
      expect(modeChanges(activator, 'burst-00001')).toEqual([
        ['none', 'reserved'],
        ['reserved', 'standard'],
      ]);
    });
  });

  describe('moving between the reserved instance and standard pods', () => {
    let reserved: Pod;
    let standard: Pod;
    const spec = (standardPods: string[]): RevisionSpec => ({
      containerConcurrency: 1,
      pods: standardPods,
      reserved: { containerConcurrency: 1, pods: [reserved.address] },
    });

    beforeAll(async () => {
      reserved = await pod();
      standard = await pod();
      await putRevision(activator, 'move-00001', spec([]));
      await eventually('the reserved pod answered its probe', () => reservedPodAccepted(activator, reserved));
    });

    it('sends new requests to a standard pod once it is healthy, while a long request on the reserved pod completes', async () => {
      const long = send(activator, client, 'move-00001', '/long?sleep=6000');
      await eventually(
        'the long request is on the reserved pod',
        async () => (await appStats(reserved.app)).inFlight === 1,
      );

      await putRevision(activator, 'move-00001', spec([standard.address]));
      await eventually(
        'serving from standard pods',
        async () => (await revisionMetric(activator, 'pilotlight_activator_serving_from_reserved', 'move-00001')) === 0,
      );

      // Both containerConcurrencies are 1 and the reserved pod is busy: this one is only
      // answered at once if it goes to the standard pod without waiting for the long one.
      const next = await send(activator, client, 'move-00001', '/next');
      expect(next.status).toBe(200);
      expect(pathOf(next.body)).toBe('/next');
      expect((await appStats(reserved.app)).inFlight).toBe(1);
      expect((await appStats(standard.app)).requests).toBe(1);

      const finished = await long;
      expect(finished.status).toBe(200);
      expect(pathOf(finished.body)).toBe('/long?sleep=6000');
      expect((await appStats(reserved.app)).requests).toBe(1);
      expect(
        await revisionMetric(
          activator,
          'pilotlight_activator_serving_mode_changes_total',
          'move-00001',
          'from="reserved",to="standard"',
        ),
      ).toBe(1);
    });

    it('goes back to the reserved pod when the standard pods are removed', async () => {
      await putRevision(activator, 'move-00001', spec([]));
      await eventually(
        'serving from the reserved pod again',
        async () => (await revisionMetric(activator, 'pilotlight_activator_serving_from_reserved', 'move-00001')) === 1,
      );

      const answer = await send(activator, client, 'move-00001', '/back');

      expect(answer.status).toBe(200);
      expect(pathOf(answer.body)).toBe('/back');
      expect((await appStats(reserved.app)).requests).toBe(2);
      expect((await appStats(standard.app)).requests).toBe(1);
      expect(modeChanges(activator, 'move-00001')).toEqual([
        ['none', 'reserved'],
        ['reserved', 'standard'],
        ['standard', 'reserved'],
      ]);
    });
  });
});
