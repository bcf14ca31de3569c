import { describe, expect, it } from 'vitest';
import { ingressHash } from '../../../gateway/routing/probe.ts';
import {
  backendKey,
  buildRoutingTable,
  type BackendState,
  type Ingress,
  type PathRoute,
} from '../../../gateway/routing/table.ts';
import { addresses, pathsIngress, routeIngress, serving, split, wireTimestamp } from '../../../harness/kingress.ts';

const onlyRoute = (table: ReturnType<typeof buildRoutingTable>, host: string): PathRoute =>
  table.external.get(host)!.routes[0]!;

describe('building the routing table', () => {
  it('stores hosts lower-cased and without trailing dot', () => {
    const table = buildRoutingTable(
      [pathsIngress('a', ['Shop.Example.COM.'], [{ splits: [split('shop', 100)] }])],
      serving(['shop']),
    );
    expect([...table.external.keys()]).toEqual(['shop.example.com']);
  });

  it('expands cluster-local hosts to their short forms with the configured cluster domain', () => {
    const ingress: Ingress = {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { namespace: 'ns', name: 'r' },
      spec: {
        rules: [
          {
            hosts: ['r.ns.svc.corp.internal'],
            visibility: 'ClusterLocal',
            http: { paths: [{ splits: [split('r-1', 100, 'ns')] }] },
          },
        ],
      },
    };
    const table = buildRoutingTable([ingress], serving(['r-1'], 'ns'), { clusterDomain: 'corp.internal' });
    expect([...table.internal.keys()].sort()).toEqual(['r.ns', 'r.ns.svc', 'r.ns.svc.corp.internal']);
    expect(table.external.size).toBe(0);
  });

  it('orders paths longest prefix first, header-conditioned before plain for equal prefixes, then spec order', () => {
    const table = buildRoutingTable(
      [
        pathsIngress(
          'a',
          ['h.example.com'],
          [
            { path: '/a', splits: [split('first-a', 100)] },
            { path: '', splits: [split('catch-all', 100)] },
            { path: '/a', headers: { 'X-Tag': { exact: 'x' } }, splits: [split('tagged-a', 100)] },
            { path: '/a/b', splits: [split('ab', 100)] },
            { path: '/a', splits: [split('second-a', 100)] },
          ],
        ),
      ],
      serving(['first-a', 'catch-all', 'tagged-a', 'ab', 'second-a']),
    );
    const order = table.external
      .get('h.example.com')!
      .routes.map(
        (r) =>
          r.splits.kind === 'weighted' && r.splits.targets[0]!.kind === 'ready' && r.splits.targets[0]!.service.name,
      );
    expect(order).toEqual(['ab', 'tagged-a', 'first-a', 'second-a', 'catch-all']);
  });

  it('merges path-level and split-level appendHeaders into lower-case pairs, the split winning', () => {
    const table = buildRoutingTable(
      [
        pathsIngress(
          'a',
          ['h.example.com'],
          [
            {
              appendHeaders: { 'X-Route': 'r', 'Knative-Serving-Revision': 'from-path' },
              splits: [
                {
                  ...split('rev-1', 100),
                  appendHeaders: { 'Knative-Serving-Revision': 'rev-1', 'Knative-Serving-Namespace': 'default' },
                },
              ],
            },
          ],
        ),
      ],
      serving(['rev-1']),
    );
    const splits = onlyRoute(table, 'h.example.com').splits;
    if (splits.kind !== 'weighted' || splits.targets[0]!.kind !== 'ready') throw new Error('expected a ready split');
    expect(splits.targets[0]!.forwards[0]!.setHeaders).toEqual([
      ['x-route', 'r'],
      ['knative-serving-revision', 'rev-1'],
      ['knative-serving-namespace', 'default'],
    ]);
  });

  it('gives a lone split without a percent all the traffic, as Knative defaulting does', () => {
    const table = buildRoutingTable(
      [
        pathsIngress(
          'a',
          ['h.example.com'],
          [
            {
              splits: [{ serviceNamespace: 'default', serviceName: 'rev-1', servicePort: 80 }],
            },
          ],
        ),
      ],
      serving(['rev-1']),
    );
    const splits = onlyRoute(table, 'h.example.com').splits;
    expect(splits.kind === 'weighted' && splits.schedule.weights).toEqual([100]);
  });

  it('turns a path whose splits are all 0 percent into a 503 with a reason', () => {
    const table = buildRoutingTable(
      [pathsIngress('zero', ['h.example.com'], [{ splits: [split('a', 0), split('b', 0)] }])],
      serving(['a', 'b']),
    );
    expect(onlyRoute(table, 'h.example.com').splits).toMatchObject({
      kind: 'reject',
      status: 503,
      reason: 'no-weighted-split',
    });
  });

  it('marks a split whose backend is unknown or has no ready endpoints as 503, keeping its weight', () => {
    const backends = new Map<string, BackendState>([
      [backendKey('default', 'empty', 80), { mode: 'serve', protocol: 'http1', endpoints: [] }],
    ]);
    const table = buildRoutingTable(
      [pathsIngress('a', ['h.example.com'], [{ splits: [split('empty', 50), split('unknown', 50)] }])],
      backends,
    );
    const splits = onlyRoute(table, 'h.example.com').splits;
    if (splits.kind !== 'weighted') throw new Error('expected weighted splits');
    expect(splits.schedule.weights).toEqual([50, 50]);
    expect(splits.targets).toMatchObject([
      { kind: 'reject', status: 503, reason: 'no-ready-endpoints' },
      { kind: 'reject', status: 503, reason: 'backend-unknown' },
    ]);
  });
});

describe('host conflicts between Ingresses', () => {
  const claim = (namespace: string, name: string, creationTimestamp?: string): Ingress => ({
    ...pathsIngress(name, ['shared.example.com'], [{ splits: [split(`${name}-rev`, 100, namespace)] }], namespace),
    metadata: {
      namespace,
      name,
      ...(creationTimestamp ? { creationTimestamp: wireTimestamp(creationTimestamp) } : {}),
    },
  });
  const owner = (ingresses: Ingress[]) =>
    buildRoutingTable(ingresses, new Map()).external.get('shared.example.com')!.ingress;

  it('the Ingress created first keeps the host, whatever the list order', () => {
    const older = claim('zeta', 'older', '2026-01-01T00:00:00Z');
    const newer = claim('alpha', 'newer', '2026-02-01T00:00:00Z');
    expect(owner([newer, older])).toEqual({ namespace: 'zeta', name: 'older' });
    expect(owner([older, newer])).toEqual({ namespace: 'zeta', name: 'older' });
  });

  it('equal creation times fall back to namespace, then name', () => {
    const at = '2026-01-01T00:00:00Z';
    expect(owner([claim('b', 'a', at), claim('a', 'z', at)])).toEqual({ namespace: 'a', name: 'z' });
    expect(owner([claim('a', 'y', at), claim('a', 'x', at)])).toEqual({ namespace: 'a', name: 'x' });
  });

  it('reports every losing claim', () => {
    const table = buildRoutingTable(
      [claim('a', 'two', '2026-02-01T00:00:00Z'), claim('a', 'one', '2026-01-01T00:00:00Z')],
      new Map(),
    );
    expect(table.conflicts).toEqual([
      {
        host: 'shared.example.com',
        visibility: 'ExternalIP',
        winner: { namespace: 'a', name: 'one' },
        loser: { namespace: 'a', name: 'two' },
      },
    ]);
  });

  it('lets one Ingress name a host in several rules, serving the paths of all of them', () => {
    const ingress = pathsIngress('multi', ['h.example.com'], [{ path: '/a', splits: [split('a', 100)] }]);
    ingress.spec!.rules!.push({
      hosts: ['H.example.com'],
      visibility: 'ExternalIP',
      http: { paths: [{ path: '/b', splits: [split('b', 100)] }] },
    });
    const table = buildRoutingTable([ingress], new Map());
    expect(table.external.get('h.example.com')!.routes.map((r) => r.prefix)).toEqual(['/a', '/b']);
    expect(table.conflicts).toEqual([]);
  });
});

describe('rebuilding', () => {
  const ingress = routeIngress({
    name: 'app',
    targets: {
      '': [
        { revision: 'app-1', percent: 90 },
        { revision: 'app-2', percent: 10 },
      ],
    },
  });

  it("keeps a path's schedule position when its splits are unchanged, so windows stay exact across rebuilds", () => {
    const first = buildRoutingTable([ingress], serving(['app-1', 'app-2']));
    const firstRoute = onlyRoute(first, 'app.default.example.com');
    const second = buildRoutingTable(
      [ingress, routeIngress({ name: 'other', targets: { '': [{ revision: 'o-1', percent: 100 }] } })],
      serving(['app-1', 'app-2', 'o-1']),
      { previous: first },
    );
    const secondRoute = onlyRoute(second, 'app.default.example.com');
    if (firstRoute.splits.kind !== 'weighted' || secondRoute.splits.kind !== 'weighted')
      throw new Error('expected weighted splits');
    expect(secondRoute.splits.schedule).toBe(firstRoute.splits.schedule);
  });

  it('carries endpoint in-flight counters over to the new table', () => {
    const backends = (...hosts: string[]) =>
      new Map<string, BackendState>([
        [backendKey('default', 'app-1', 80), { mode: 'serve', protocol: 'http1', endpoints: addresses(...hosts) }],
      ]);
    const first = buildRoutingTable([ingress], backends('10.0.0.1', '10.0.0.2'));
    first.upstreams.get('10.0.0.1:8012')!.inFlight = 4;
    const second = buildRoutingTable([ingress], backends('10.0.0.1', '10.0.0.3'), { previous: first });
    expect(second.upstreams.get('10.0.0.1:8012')!.inFlight).toBe(4);
    expect(second.upstreams.get('10.0.0.3:8012')!.inFlight).toBe(0);
    expect(second.upstreams.has('10.0.0.2:8012')).toBe(false);
  });
});

describe('ingressHash', () => {
  it('depends on the spec content, namespace and name, not on key order', () => {
    const base = pathsIngress('a', ['h.example.com'], [{ path: '/', splits: [split('x', 100)] }]);
    const reordered: Ingress = {
      kind: 'Ingress',
      apiVersion: base.apiVersion,
      metadata: { name: 'a', namespace: 'default' },
      spec: { rules: [{ visibility: 'ExternalIP', http: base.spec!.rules![0]!.http!, hosts: ['h.example.com'] }] },
    };
    expect(ingressHash(reordered)).toBe(ingressHash(base));
    expect(ingressHash(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(
      ingressHash(pathsIngress('a', ['h.example.com'], [{ path: '/', splits: [split('x', 90), split('y', 10)] }])),
    ).not.toBe(ingressHash(base));
    expect(ingressHash(pathsIngress('b', ['h.example.com'], [{ path: '/', splits: [split('x', 100)] }]))).not.toBe(
      ingressHash(base),
    );
    expect(
      ingressHash(pathsIngress('a', ['h.example.com'], [{ path: '/', splits: [split('x', 100)] }], 'other')),
    ).not.toBe(ingressHash(base));
  });
});
