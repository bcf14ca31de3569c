// Gradual rollout (rollout-duration) through the real API server: the Route's Ingress splits step
// from the old revision to the new on upstream's schedule. Time is a SteppedClock, so a 120 s
// rollout runs in seconds and every step length is exact; the data plane is FakeDataPlane,
// holding the Ingress back where the test needs to time the first 1%.
import { describe, expect, it } from 'vitest';
import { SteppedClock } from '../../support/steppedClock.ts';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  condition,
  FakeDataPlane,
  getOrUndefined,
  ingressesPath,
  isReadyNow,
  ksvc,
  putConfigMap,
  QUEUE_IMAGE,
  serving,
  startInProcess,
  waitFor,
  type Running,
  cleanupsAfterEach,
} from './harness.ts';

type Json = Record<string, any>;

const cleanups = cleanupsAfterEach();

const ROLLOUT = 'networking.internal.knative.dev/rollout';

/** The Service, rolled out over 120 s by its own annotation (which its Route inherits). */
const app = (image: string) => {
  const svc = ksvc('app', image);
  return { ...svc, metadata: { ...svc.metadata, annotations: { 'serving.knative.dev/rollout-duration': '120s' } } };
};

/** The default target's splits, e.g. "app-00001=99 app-00002=1". */
const splitsOf = (ingress: Json | undefined): string =>
  ((ingress?.spec?.rules?.[0]?.http?.paths?.[0]?.splits ?? []) as Json[])
    .map((s) => `${s.serviceName}=${s.percent}`)
    .join(' ');

const statusOf = (route: Json | undefined): string =>
  ((route?.status?.traffic ?? []) as Json[]).map((t) => `${t.revisionName}=${t.percent}`).join(' ');

async function setUp(prefix: string) {
  const clock = new SteppedClock(Date.now());
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  const dataPlane = new FakeDataPlane(api, ns).start();
  cleanups.push(() => dataPlane.stop());
  const start = async (): Promise<Running> => {
    const running = await startInProcess(ns, { clock });
    cleanups.push(() => running.stop());
    return running;
  };
  const running = await start();

  // Every split the Ingress ever had, in order: a watch misses no update, however fast they come.
  const seen: string[] = [];
  const watching = new AbortController();
  const watched = (async () => {
    const events = api.watch<Json>(ingressesPath(ns), {
      query: { fieldSelector: 'metadata.name=app' },
      signal: watching.signal,
    });
    for await (const event of events) {
      const splits = splitsOf(event.object);
      if (splits && splits !== seen.at(-1)) seen.push(splits);
    }
  })().catch((error) => {
    if (!watching.signal.aborted) throw error;
  });
  cleanups.push(async () => {
    watching.abort();
    await watched;
  });

  const ingress = () => getOrUndefined(ingressesPath(ns, 'app'));
  const route = () => getOrUndefined(serving(ns, 'routes', 'app'));
  /** Waits for the step to be served and reported, so the controller has asked for its next one. */
  const stepped = async (splits: string) => {
    await waitFor(`Ingress splits ${splits}`, ingress, (i) => splitsOf(i) === splits);
    await waitFor(`Route traffic ${splits}`, route, (r) => statusOf(r) === splits);
  };
  const rolloutState = async () => JSON.parse((await ingress())?.metadata.annotations[ROLLOUT] ?? '{}');
  /** Moves time by the step length: the requeue the last step asked for makes the next one. */
  const nextStep = async (splits: string) => {
    clock.advance(10_000);
    await stepped(splits);
  };

  /**
   * Starts the rollout to a new revision with the Ingress held back for 10 s of the clock: that
   * first 1% took 10 s, so the remaining 99 points go in 11 steps of 9, 10 s apart.
   */
  const rollTo = async (image: string, opening: string) => {
    dataPlane.held.add('app');
    await mustSucceed(apply(ns, app(image)));
    await stepped(opening);
    const started = await rolloutState();
    expect(started.configurations[0].stepParams).toEqual({ starttime: clock.now() * 1e6 });
    const r = await route();
    expect(condition(r, 'IngressReady')).toMatchObject({ status: 'Unknown', reason: 'RolloutInProgress' });
    clock.advance(10_000);
    dataPlane.held.delete('app');
    const timed = await waitFor(
      'the step length to be set',
      rolloutState,
      (s) => s.configurations[0].stepParams.stepSize !== undefined,
    );
    expect(timed.configurations[0].stepParams).toEqual({
      starttime: (clock.now() - 10_000) * 1e6,
      nextStepTime: (clock.now() + 10_000) * 1e6,
      stepDuration: 10e9,
      stepSize: 9,
    });
    await waitFor('the Route to settle', route, (r) => statusOf(r) === opening);
  };

  return { ns, clock, dataPlane, start, running, seen, ingress, route, rolloutState, stepped, nextStep, rollTo };
}

describe('Gradual rollout', () => {
  it('steps the splits from the old revision to the new over rollout-duration and ends at 100', async () => {
    const t = await setUp('rollout');
    await mustSucceed(apply(t.ns, app('dev.local/app:1')));
    await waitFor('app to be ready', () => getOrUndefined(serving(t.ns, 'services', 'app')), isReadyNow);
    await t.stepped('app-00001=100');

    await t.rollTo('dev.local/app:2', 'app-00001=99 app-00002=1');
    // What upstream's e2e test watches for: the Service reports the rollout.
    const rolling = await waitFor(
      'the Service to report the rollout',
      () => getOrUndefined(serving(t.ns, 'services', 'app')),
      (s) => condition(s, 'RoutesReady')?.reason === 'RolloutInProgress',
    );
    expect(condition(rolling, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'RolloutInProgress' });
    // Steps of 9 points: 10, 19, … 91, 100.
    const schedule = Array.from({ length: 11 }, (_, i) => 10 + 9 * i);
    for (const percent of schedule.slice(0, -1)) {
      await t.nextStep(`app-00001=${100 - percent} app-00002=${percent}`);
      // The old revision still takes traffic, so it stays routed (and warm).
      const old = await getOrUndefined(serving(t.ns, 'revisions', 'app-00001'));
      expect(old?.metadata.labels['serving.knative.dev/routingState']).toBe('active');
    }
    await t.nextStep('app-00002=100');

    const svc = await waitFor(
      'app to be ready again',
      () => getOrUndefined(serving(t.ns, 'services', 'app')),
      isReadyNow,
    );
    expect(svc.status.traffic).toEqual([{ revisionName: 'app-00002', latestRevision: true, percent: 100 }]);
    expect(await t.rolloutState()).toEqual({
      configurations: [
        {
          configurationName: 'app',
          percent: 100,
          revisions: [{ revisionName: 'app-00002', percent: 100 }],
          stepParams: {},
        },
      ],
    });
    expect(t.seen).toEqual([
      'app-00001=100',
      'app-00001=99 app-00002=1',
      ...schedule.slice(0, -1).map((p) => `app-00001=${100 - p} app-00002=${p}`),
      'app-00002=100',
    ]);
    await waitFor(
      'app-00001 to go to reserve once the rollout is done',
      () => getOrUndefined(serving(t.ns, 'revisions', 'app-00001')),
      (r) => r.metadata.labels['serving.knative.dev/routingState'] === 'reserve',
    );
  });

  it('carries on after a controller restart, and a newer revision mid-rollout drains the one rolling in first', async () => {
    const t = await setUp('rollout-restart');
    await mustSucceed(apply(t.ns, app('dev.local/app:1')));
    await waitFor('app to be ready', () => getOrUndefined(serving(t.ns, 'services', 'app')), isReadyNow);
    await t.rollTo('dev.local/app:2', 'app-00001=99 app-00002=1');
    await t.nextStep('app-00001=90 app-00002=10');
    await t.nextStep('app-00001=81 app-00002=19');

    // A new controller knows the rollout only from the Ingress: it neither finishes it at once
    // nor starts it over, and steps on when the next step falls due.
    await t.running.stop();
    await t.start();
    await t.nextStep('app-00001=72 app-00002=28');

    await t.rollTo('dev.local/app:3', 'app-00001=72 app-00002=27 app-00003=1');
    const after = [
      'app-00001=72 app-00002=18 app-00003=10',
      'app-00001=72 app-00002=9 app-00003=19',
      'app-00001=72 app-00003=28',
      ...[37, 46, 55, 64, 73, 82, 91].map((p) => `app-00001=${100 - p} app-00003=${p}`),
      'app-00003=100',
    ];
    for (const splits of after) await t.nextStep(splits);
    await waitFor('app to be ready', () => getOrUndefined(serving(t.ns, 'services', 'app')), isReadyNow);
    expect(t.seen).toEqual([
      'app-00001=100',
      'app-00001=99 app-00002=1',
      'app-00001=90 app-00002=10',
      'app-00001=81 app-00002=19',
      'app-00001=72 app-00002=28',
      'app-00001=72 app-00002=27 app-00003=1',
      ...after,
    ]);
  });
});
