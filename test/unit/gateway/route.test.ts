import { describe, expect, it } from 'vitest';
import { route, type ForwardDecision, type RequestHead, type RouteDecision } from '../../../gateway/routing/index.ts';
import { ingressHash } from '../../../gateway/routing/probe.ts';
import { backendKey, buildRoutingTable, type BackendState, type RoutingTable } from '../../../gateway/routing/table.ts';
import { xorshiftRandomInt } from '../../../gateway/routing/split.ts';
import { addresses, routeIngress, serving, type RevisionTarget } from '../../../harness/kingress.ts';

const HOST = 'app.default.example.com';
const request = (headers: RequestHead['headers'] = {}, host = HOST): RequestHead => ({
  listener: 'external',
  host,
  path: '/',
  headers,
});

function forwarded(decision: RouteDecision): ForwardDecision {
  if (decision.kind !== 'forward') throw new Error(`expected a forward decision, got ${JSON.stringify(decision)}`);
  return decision;
}

const appTable = (revisions: RevisionTarget[], previous?: RoutingTable) =>
  buildRoutingTable(
    [routeIngress({ name: 'app', targets: { '': revisions } })],
    serving(revisions.map((r) => r.revision)),
    { randomInt: xorshiftRandomInt(1), ...(previous ? { previous } : {}) },
  );

function revisionCounts(table: RoutingTable, requests: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const name = forwarded(route(table, request())).service.name;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe('route', () => {
  it('forwards with the Knative-Serving-Revision and Knative-Serving-Namespace headers of the split', () => {
    const decision = forwarded(route(appTable([{ revision: 'app-1', percent: 100 }]), request()));
    expect(decision).toMatchObject({
      mode: 'serve',
      protocol: 'http1',
      ingress: { namespace: 'default', name: 'app' },
      service: { namespace: 'default', name: 'app-1', port: 80 },
    });
    expect(decision.upstream).toMatchObject({ host: 'app-1-pod', port: 8012, address: 'app-1-pod:8012' });
    expect(new Map(decision.setHeaders)).toEqual(
      new Map([
        ['knative-serving-revision', 'app-1'],
        ['knative-serving-namespace', 'default'],
      ]),
    );
  });

  it('splits 90/10 and 33/33/34 exactly per 100 requests through the whole routing path', () => {
    expect(
      revisionCounts(
        appTable([
          { revision: 'a', percent: 90 },
          { revision: 'b', percent: 10 },
        ]),
        100,
      ),
    ).toEqual({ a: 90, b: 10 });
    const three = appTable([
      { revision: 'a', percent: 33 },
      { revision: 'b', percent: 33 },
      { revision: 'c', percent: 34 },
    ]);
    for (let window = 0; window < 100; window++) expect(revisionCounts(three, 100)).toEqual({ a: 33, b: 33, c: 34 });
  });

  it('applies new weights from the next pick after a rebuild', () => {
    const before = appTable([
      { revision: 'a', percent: 90 },
      { revision: 'b', percent: 10 },
    ]);
    revisionCounts(before, 37);
    const after = appTable(
      [
        { revision: 'a', percent: 20 },
        { revision: 'b', percent: 80 },
      ],
      before,
    );
    expect(revisionCounts(after, 100)).toEqual({ a: 20, b: 80 });
  });

  it('sends a scaled-to-zero revision to the activators, still naming the revision in headers', () => {
    const backends = new Map<string, BackendState>([
      [
        backendKey('default', 'app-1', 80),
        { mode: 'proxy', protocol: 'h2c', activators: addresses('10.1.0.1', '10.1.0.2') },
      ],
    ]);
    const table = buildRoutingTable(
      [routeIngress({ name: 'app', targets: { '': [{ revision: 'app-1', percent: 100 }] } })],
      backends,
      { randomInt: xorshiftRandomInt(3) },
    );
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const decision = forwarded(route(table, request()));
      expect(decision).toMatchObject({ mode: 'proxy', protocol: 'h2c' });
      expect(new Map(decision.setHeaders).get('knative-serving-revision')).toBe('app-1');
      seen.add(decision.upstream.address);
    }
    expect(seen).toEqual(new Set(['10.1.0.1:8012', '10.1.0.2:8012']));
  });

  it('prefers the less loaded endpoint of a revision (seeded power of two choices)', () => {
    const backends = new Map<string, BackendState>([
      [
        backendKey('default', 'app-1', 80),
        { mode: 'serve', protocol: 'http1', endpoints: addresses('10.0.0.1', '10.0.0.2', '10.0.0.3') },
      ],
    ]);
    const table = buildRoutingTable(
      [routeIngress({ name: 'app', targets: { '': [{ revision: 'app-1', percent: 100 }] } })],
      backends,
      { randomInt: xorshiftRandomInt(9) },
    );
    table.upstreams.get('10.0.0.1:8012')!.inFlight = 8;
    table.upstreams.get('10.0.0.2:8012')!.inFlight = 2;
    const counts = new Map<string, number>();
    for (let i = 0; i < 3_000; i++) {
      const address = forwarded(route(table, request())).upstream.address;
      counts.set(address, (counts.get(address) ?? 0) + 1);
    }
    expect(counts.get('10.0.0.1:8012')).toBeUndefined();
    // 10.0.0.3 (idle) wins both pairs it is drawn in (2/3 of picks); 10.0.0.2 only the pair against the busy one.
    expect(counts.get('10.0.0.3:8012')! / 3_000).toBeCloseTo(2 / 3, 1);
    expect(counts.get('10.0.0.2:8012')! / 3_000).toBeCloseTo(1 / 3, 1);
  });

  it('returns the decision objects built with the table instead of allocating per request', () => {
    const table = appTable([{ revision: 'app-1', percent: 100 }]);
    expect(route(table, request())).toBe(route(table, request()));
  });

  it('answers 503 with a reason when the picked revision has no ready endpoints', () => {
    const backends = new Map<string, BackendState>([
      [backendKey('default', 'app-1', 80), { mode: 'serve', protocol: 'http1', endpoints: [] }],
    ]);
    const table = buildRoutingTable(
      [routeIngress({ name: 'app', targets: { '': [{ revision: 'app-1', percent: 100 }] } })],
      backends,
    );
    expect(route(table, request())).toMatchObject({
      kind: 'reject',
      status: 503,
      reason: 'no-ready-endpoints',
      message: 'backend default/app-1:80 has no ready endpoints',
    });
  });

  it('answers a Knative ingress probe itself with the hash of the Ingress that owns the host', () => {
    const ingress = routeIngress({ name: 'app', targets: { '': [{ revision: 'app-1', percent: 100 }] } });
    const table = buildRoutingTable([ingress], serving(['app-1']));
    const probe = { 'k-network-probe': 'probe', 'k-network-hash': 'override', 'user-agent': 'Knative-Ingress-Probe' };
    expect(route(table, request(probe))).toEqual({
      kind: 'probe',
      status: 200,
      ingress: { namespace: 'default', name: 'app' },
      hash: ingressHash(ingress),
    });
    expect(route(table, { ...request(probe, 'app.default.svc.cluster.local'), listener: 'internal' })).toMatchObject({
      kind: 'probe',
      hash: ingressHash(ingress),
    });
    expect(route(table, request(probe, 'unknown.example.com'))).toMatchObject({ kind: 'reject', status: 404 });
  });

  it("forwards requests that are not Knative ingress probes, such as the activator's own probes", () => {
    const table = buildRoutingTable(
      [routeIngress({ name: 'app', targets: { '': [{ revision: 'app-1', percent: 100 }] } })],
      serving(['app-1']),
    );
    expect(route(table, request({ 'k-network-probe': 'queue' })).kind).toBe('forward');
    expect(route(table, request({ 'k-network-probe': 'probe' })).kind).toBe('forward');
    expect(route(table, request({ 'k-network-hash': 'override' })).kind).toBe('forward');
  });
});
