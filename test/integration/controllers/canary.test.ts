// pilotlight's canary analysis through the real API server: the Route's Ingress splits step
// from the stable revision to the canary as the gateway's figures allow, or go back to the
// stable revision in full when they do not. The figures come from a stand-in for the gateway's
// GET /revisions/stats (a real HTTP server on loopback serving what each test scripts); time is
// a SteppedClock, so every check interval is exact; the data plane is FakeDataPlane.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS, LATENCY_SLOTS, latencySlot } from '../../../lib/stats/revisionFigures.ts';
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
  list,
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

const INTERVAL_MS = 30_000;
const STATE = 'canary.pilotlight.dev/state';

interface Scripted {
  requests: number;
  errors: number;
  latencyMs: number;
}
const GOOD: Scripted = { requests: 500, errors: 0, latencyMs: 40 };

/** The gateway's stats endpoint as the canary analysis reads it, answering what the test scripts per revision. */
async function fakeGatewayStats() {
  const figures = new Map<string, Scripted>();
  const queries: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stats');
    queries.push(`${url.pathname}?${url.searchParams}`);
    const namespace = url.searchParams.get('namespace') ?? '';
    const revisions = [...figures].map(([revision, f]) => {
      const latency = new Array(LATENCY_SLOTS).fill(0);
      latency[latencySlot(f.latencyMs)] = f.requests;
      return { namespace, revision, requests: f.requests, errors: f.errors, latency, p99Ms: f.latencyMs };
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ windowMs: INTERVAL_MS, latencyBucketsMs: LATENCY_BUCKETS_MS, revisions }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/revisions/stats`;
  return { figures, queries, url };
}

const splitsOf = (ingress: Json | undefined): string =>
  ((ingress?.spec?.rules?.[0]?.http?.paths?.[0]?.splits ?? []) as Json[])
    .map((s) => `${s.serviceName}=${s.percent}`)
    .join(' ');

const statusOf = (route: Json | undefined): string =>
  ((route?.status?.traffic ?? []) as Json[])
    .map((t) => `${t.tag ? `${t.tag}:` : ''}${t.revisionName}=${t.percent}`)
    .join(' ');

async function setUp(prefix: string, annotations: Record<string, string>) {
  const clock = new SteppedClock(Date.now());
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  const dataPlane = new FakeDataPlane(api, ns).start();
  cleanups.push(() => dataPlane.stop());
  const stats = await fakeGatewayStats();
  const start = async (): Promise<Running> => {
    const running = await startInProcess(ns, { clock, gatewayStatsUrl: stats.url });
    cleanups.push(() => running.stop());
    return running;
  };
  let running = await start();

  const app = (image: string, extra: Record<string, string> = {}) => {
    const svc = ksvc('app', image);
    return { ...svc, metadata: { ...svc.metadata, annotations: { ...annotations, ...extra } } };
  };
  const ingress = () => getOrUndefined(ingressesPath(ns, 'app'));
  const route = () => getOrUndefined(serving(ns, 'routes', 'app'));
  const service = () => getOrUndefined(serving(ns, 'services', 'app'));
  const state = async () => JSON.parse((await ingress())?.metadata.annotations?.[STATE] ?? '[]');
  /** Waits for the split to be served and reported. */
  const served = async (splits: string) => {
    await waitFor(`Ingress splits ${splits}`, ingress, (i) => splitsOf(i) === splits);
    await waitFor(
      `Route traffic ${splits}`,
      route,
      (r) =>
        statusOf(r)
          .split(' ')
          .filter((t) => !t.startsWith('canary:'))
          .join(' ') === splits,
    );
  };
  /**
   * Moves time by one interval, so the check the controller scheduled falls due, until the
   * splits are what the check should make them. A controller that scheduled its check only after
   * the clock moved is given another interval; bounded.
   */
  const nextCheck = async (splits: string) => {
    for (let attempt = 0; attempt < 3; attempt++) {
      clock.advance(INTERVAL_MS);
      const done = await waitFor(`Ingress splits ${splits}`, ingress, (i) => splitsOf(i) === splits, 3_000).then(
        () => true,
        () => false,
      );
      if (done) return served(splits);
    }
    throw new Error(`the splits never became ${splits}; they are ${splitsOf(await ingress())}`);
  };
  const events = async () =>
    (await list(`/api/v1/namespaces/${ns}/events`))
      .filter((e) => e.involvedObject.kind === 'Service' && e.involvedObject.name === 'app')
      .map((e) => `${e.type} ${e.reason}: ${e.message}`);
  const restart = async () => {
    await running.stop();
    running = await start();
  };

  await mustSucceed(apply(ns, app('dev.local/app:1')));
  await waitFor('app to be ready', service, isReadyNow);
  await served('app-00001=100');
  return { ns, clock, stats, app, ingress, route, service, state, serving: served, nextCheck, events, restart };
}

const ANALYSIS = {
  'canary.pilotlight.dev/steps': '5,25,50',
  'canary.pilotlight.dev/interval': '30s',
  'canary.pilotlight.dev/max-error-rate': '1%',
  'canary.pilotlight.dev/max-p99-increase': '200ms',
  'canary.pilotlight.dev/min-requests': '100',
  'canary.pilotlight.dev/max-failures': '2',
};

describe('Canary analysis', () => {
  it('advances 5 → 25 → 50 → 100 on good figures, across a controller restart', async () => {
    const t = await setUp('canary-good', ANALYSIS);
    t.stats.figures.set('app-00001', GOOD).set('app-00002', GOOD);
    await mustSucceed(apply(t.ns, t.app('dev.local/app:2')));
    await t.serving('app-00001=95 app-00002=5');
    const route = await t.route();
    // The canary answers on its own tag URL while it rolls in.
    expect(route?.status.traffic).toContainEqual(
      expect.objectContaining({ tag: 'canary', revisionName: 'app-00002', percent: 0 }),
    );
    expect(route?.status.traffic.find((x: Json) => x.tag === 'canary').url).toMatch(/^http:\/\/canary-app\./);
    expect(condition(route, 'IngressReady')).toMatchObject({ status: 'Unknown', reason: 'RolloutInProgress' });
    const rolling = await waitFor(
      'the Service to show the canary',
      t.service,
      (s) => condition(s, 'CanaryReady')?.reason === 'CanaryInProgress',
    );
    expect(condition(rolling, 'CanaryReady')).toMatchObject({ status: 'Unknown', severity: 'Info' });
    expect(condition(rolling, 'Ready')?.status).toBe('Unknown');

    await t.nextCheck('app-00001=75 app-00002=25');
    // A new controller knows the canary from the Ingress alone, and carries on from the same step.
    await t.restart();
    expect(await t.state()).toMatchObject([{ stable: 'app-00001', canary: 'app-00002', step: 1, failures: 0 }]);
    await t.nextCheck('app-00001=50 app-00002=50');
    await t.nextCheck('app-00002=100');

    const svc = await waitFor('app to be ready with the canary done', t.service, (s) => isReadyNow(s));
    expect(svc.status.traffic).toEqual([{ revisionName: 'app-00002', latestRevision: true, percent: 100 }]);
    expect(condition(svc, 'CanaryReady')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(await t.state()).toEqual([
      { configurationName: 'app', stable: 'app-00002', message: expect.stringContaining('takes all traffic') },
    ]);
    const events = await waitFor('the events', t.events, (e) => e.some((x) => x.includes('Succeeded')));
    expect(events).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Normal CanaryStarted: Revision "app-00002" takes 5% of the traffic/),
        expect.stringMatching(/^Normal CanaryAdvanced: Check passed at 5%: app-00002: 500 requests .*now takes 25%/),
        expect.stringMatching(/^Normal CanaryAdvanced: Check passed at 25%: .*now takes 50%/),
        expect.stringMatching(/^Normal Succeeded: Check passed at 50%: .*"app-00002" takes all traffic/),
      ]),
    );
    // Every check read the last interval of the Service's namespace.
    expect(t.stats.queries.length).toBeGreaterThanOrEqual(3);
    expect(new Set(t.stats.queries)).toEqual(new Set([`/revisions/stats?window=30s&namespace=${t.ns}`]));
  });

  it('rolls back on the error rate, marks the Service, and starts again only for a newer revision', async () => {
    const t = await setUp('canary-errors', ANALYSIS);
    t.stats.figures.set('app-00001', GOOD).set('app-00002', { requests: 200, errors: 20, latencyMs: 40 });
    await mustSucceed(apply(t.ns, t.app('dev.local/app:2')));
    await t.serving('app-00001=95 app-00002=5');
    // The first failed check holds the step; the second rolls back.
    t.clock.advance(INTERVAL_MS);
    await waitFor('the first failed check', t.state, (s) => s[0]?.failures === 1);
    expect(splitsOf(await t.ingress())).toBe('app-00001=95 app-00002=5');
    await t.nextCheck('app-00001=100');

    const svc = await waitFor(
      'the Service to show the rollback',
      t.service,
      (s) => condition(s, 'CanaryReady')?.status === 'False',
    );
    const message = condition(svc, 'CanaryReady')?.message;
    expect(message).toBe(
      'Rolled back "app-00002" to "app-00001" after 2 failed checks: app-00002: 200 requests (min 100), ' +
        '5xx 10.0% (max 1.0%), p99 40ms vs app-00001 40ms (max +200ms).',
    );
    expect(condition(svc, 'Ready')).toMatchObject({ status: 'False', reason: 'RolledBack', message });
    expect(svc.status.traffic).toEqual([{ revisionName: 'app-00001', latestRevision: true, percent: 100 }]);
    expect(await t.events()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Warning CanaryCheckFailed: Check failed at 5% \(1 of 2 allowed\): .*5xx 10\.0%/),
        `Warning RolledBack: ${message}`,
      ]),
    );
    // The rejected revision is not tried again, however long it stays the latest.
    await t.nextCheck('app-00001=100');
    expect(await t.state()).toMatchObject([{ stable: 'app-00001', rolledBack: 'app-00002' }]);
    // The stable revision takes all the traffic again: it stays routed (and warm).
    const stable = await getOrUndefined(serving(t.ns, 'revisions', 'app-00001'));
    expect(stable?.metadata.labels['serving.knative.dev/routingState']).toBe('active');

    // A newer revision starts a canary of its own from the stable revision.
    t.stats.figures.set('app-00003', GOOD);
    await mustSucceed(apply(t.ns, t.app('dev.local/app:3')));
    await t.serving('app-00001=95 app-00003=5');
    await waitFor(
      'the Service to show the new canary',
      t.service,
      (s) => condition(s, 'CanaryReady')?.reason === 'CanaryInProgress',
    );
  });

  it('rolls back on a p99 increase over the stable revision', async () => {
    const t = await setUp('canary-latency', { ...ANALYSIS, 'canary.pilotlight.dev/max-failures': '1' });
    t.stats.figures
      .set('app-00001', { requests: 2000, errors: 0, latencyMs: 90 })
      .set('app-00002', { requests: 150, errors: 0, latencyMs: 450 });
    await mustSucceed(apply(t.ns, t.app('dev.local/app:2')));
    await t.serving('app-00001=95 app-00002=5');
    await t.nextCheck('app-00001=100');
    const svc = await waitFor('the rollback', t.service, (s) => condition(s, 'CanaryReady')?.reason === 'RolledBack');
    expect(condition(svc, 'CanaryReady')?.message).toMatch(
      /after 1 failed checks: app-00002: 150 requests \(min 100\), 5xx 0\.0% \(max 1\.0%\), p99 \d+ms vs app-00001 \d+ms \(max \+200ms\)\.$/,
    );
  });

  it('ends a running canary when its annotations are removed, and says so', async () => {
    const t = await setUp('canary-removed', ANALYSIS);
    t.stats.figures.set('app-00001', GOOD).set('app-00002', GOOD);
    await mustSucceed(apply(t.ns, t.app('dev.local/app:2')));
    await t.serving('app-00001=95 app-00002=5');
    // kubectl apply drops the annotations the last apply had and this one has not.
    await mustSucceed(apply(t.ns, ksvc('app', 'dev.local/app:2')));
    await t.serving('app-00002=100');
    expect(await t.state()).toEqual([]);
    await waitFor('the Event', t.events, (events) =>
      events.includes(
        'Normal CanaryAbandoned: The canary analysis is off (no canary.pilotlight.dev/steps annotation): "app-00002" takes its whole share at once, without analysis.',
      ),
    );
  });

  it('previews a revision at 0% on its tag until promoted, then rolls it out', async () => {
    const t = await setUp('canary-preview', { ...ANALYSIS, 'canary.pilotlight.dev/steps': '0,50' });
    t.stats.figures.set('app-00001', GOOD).set('app-00002', GOOD);
    await mustSucceed(apply(t.ns, t.app('dev.local/app:2')));
    const previewing = await waitFor('the tag to the canary', t.route, (r) => statusOf(r).includes('canary:app-00002'));
    expect(statusOf(previewing)).toBe('app-00001=100 canary:app-00002=0');
    const ingress = await t.ingress();
    expect(splitsOf(ingress)).toBe('app-00001=100');
    const tagRule = ((ingress?.spec.rules ?? []) as Json[]).find((r) =>
      (r.hosts as string[]).some((h) => h.startsWith('canary-app.')),
    );
    expect(tagRule?.http.paths[0].splits).toEqual([
      expect.objectContaining({ serviceName: 'app-00002', percent: 100 }),
    ]);
    const svc = await waitFor(
      'the Service to await promotion',
      t.service,
      (s) => condition(s, 'CanaryReady')?.reason === 'AwaitingPromotion',
    );
    expect(condition(svc, 'CanaryReady')?.message).toContain('on tag "canary" only');

    // Time alone does not move a preview.
    t.clock.advance(10 * INTERVAL_MS);
    await t.serving('app-00001=100');
    expect(t.stats.queries).toEqual([]);

    await mustSucceed(apply(t.ns, t.app('dev.local/app:2', { 'canary.pilotlight.dev/promote': 'app-00002' })));
    await t.serving('app-00001=50 app-00002=50');
    await t.nextCheck('app-00002=100');
    const events = await t.events();
    expect(events).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Normal AwaitingPromotion: Revision "app-00002" answers on tag "canary" only/),
        expect.stringMatching(
          /^Normal CanaryAdvanced: "app-00002" was promoted from preview; "app-00002" now takes 50%/,
        ),
        expect.stringMatching(/^Normal Succeeded: Check passed at 50%/),
      ]),
    );
    const done = await waitFor('the tag to go', t.route, (r) => !statusOf(r).includes('canary:'));
    expect(statusOf(done)).toBe('app-00002=100');
  });
});
