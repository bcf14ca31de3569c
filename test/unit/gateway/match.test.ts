import { describe, expect, it } from 'vitest';
import { NO_MATCHING_PATH, UNKNOWN_HOST, type RejectDecision } from '../../../gateway/routing/decision.ts';
import { match, normalizeHost, type Listener, type RequestHead } from '../../../gateway/routing/match.ts';
import { buildRoutingTable, type PathRoute, type RoutingTable } from '../../../gateway/routing/table.ts';
import { pathsIngress, routeIngress, serving, split } from '../../../harness/kingress.ts';

const request = (
  host: string | undefined,
  path = '/',
  headers: RequestHead['headers'] = {},
  listener: Listener = 'external',
): RequestHead => ({ listener, host, path, headers });

/** The revision a matched path sends all its traffic to (these tests use single-split paths). */
function revisionOf(result: PathRoute | RejectDecision): string {
  if (result.kind === 'reject') return `reject:${result.reason}`;
  if (result.splits.kind === 'reject') return `reject:${result.splits.reason}`;
  if (result.splits.kind === 'rewrite') return `rewrite:${result.splits.host}`;
  const target = result.splits.targets[0]!;
  return target.kind === 'ready' ? target.service.name : `reject:${target.reason}`;
}

describe('host matching', () => {
  const table = buildRoutingTable(
    [routeIngress({ name: 'hello', targets: { '': [{ revision: 'hello-1', percent: 100 }] } })],
    serving(['hello-1']),
  );

  it.each([
    ['hello.default.example.com'],
    ['Hello.Default.EXAMPLE.com'],
    ['hello.default.example.com:8080'],
    ['hello.default.example.com.'],
    ['HELLO.default.example.com.:80'],
  ])('finds %s', (host) => {
    expect(revisionOf(match(table, request(host)))).toBe('hello-1');
  });

  it('answers 404 unknown-host for a host nobody serves, a missing Host, and a suffix of a served host', () => {
    for (const host of ['nope.default.example.com', undefined, 'default.example.com', 'xhello.default.example.com']) {
      expect(match(table, request(host))).toBe(UNKNOWN_HOST);
    }
    expect(UNKNOWN_HOST).toMatchObject({ status: 404, reason: 'unknown-host', message: 'no route for this host' });
  });

  it('serves cluster-local hosts on the internal listener only, with the same 404 as an unknown host outside', () => {
    for (const host of ['hello.default', 'hello.default.svc', 'hello.default.svc.cluster.local']) {
      expect(revisionOf(match(table, request(host, '/', {}, 'internal')))).toBe('hello-1');
      expect(match(table, request(host, '/', {}, 'external'))).toBe(UNKNOWN_HOST);
    }
  });

  it('serves public hosts on the internal listener too, for in-cluster clients that use them', () => {
    expect(revisionOf(match(table, request('hello.default.example.com', '/', {}, 'internal')))).toBe('hello-1');
  });

  it('normalises IPv6 literals without losing the brackets', () => {
    expect(normalizeHost('[FD00::1]:8080')).toBe('[fd00::1]');
    expect(normalizeHost('[fd00::1]')).toBe('[fd00::1]');
  });
});

describe('path and header matching', () => {
  const backends = serving(['root', 'api', 'api-v2', 'canary', 'exact-case']);

  it('prefers the longest prefix whatever the spec order', () => {
    const table = buildRoutingTable(
      [
        pathsIngress(
          'paths',
          ['site.example.com'],
          [
            { path: '/', splits: [split('root', 100)] },
            { path: '/api', splits: [split('api', 100)] },
            { path: '/api/v2', splits: [split('api-v2', 100)] },
          ],
        ),
      ],
      backends,
    );
    const revisionFor = (path: string) => revisionOf(match(table, request('site.example.com', path)));
    expect(revisionFor('/')).toBe('root');
    expect(revisionFor('/index.html')).toBe('root');
    expect(revisionFor('/api')).toBe('api');
    expect(revisionFor('/api/v1/users')).toBe('api');
    expect(revisionFor('/api/v2/users')).toBe('api-v2');
    expect(revisionFor('/api/v2?x=1')).toBe('api-v2');
    expect(revisionFor('/?next=/api/v2')).toBe('root');
  });

  it('answers 404 no-matching-path when no prefix applies', () => {
    const table = buildRoutingTable(
      [pathsIngress('paths', ['site.example.com'], [{ path: '/api', splits: [split('api', 100)] }])],
      backends,
    );
    expect(match(table, request('site.example.com', '/other'))).toBe(NO_MATCHING_PATH);
    expect(NO_MATCHING_PATH.status).toBe(404);
  });

  it('sends a request to a header-conditioned path only when every header matches exactly, names case-insensitively', () => {
    const table = buildRoutingTable(
      [
        pathsIngress(
          'headers',
          ['site.example.com'],
          [
            { splits: [split('root', 100)] },
            { headers: { 'X-Canary': { exact: 'yes' }, 'X-Team': { exact: 'Blue' } }, splits: [split('canary', 100)] },
          ],
        ),
      ],
      backends,
    );
    const revisionFor = (headers: RequestHead['headers']) =>
      revisionOf(match(table, request('site.example.com', '/', headers)));
    expect(revisionFor({ 'x-canary': 'yes', 'x-team': 'Blue' })).toBe('canary');
    expect(revisionFor({ 'x-canary': 'yes' })).toBe('root');
    expect(revisionFor({ 'x-canary': 'yes', 'x-team': 'blue' })).toBe('root');
    expect(revisionFor({ 'x-canary': ['yes', 'yes'], 'x-team': 'Blue' })).toBe('root');
  });
});

describe('tag routing', () => {
  const targets = {
    '': [{ revision: 'app-1', percent: 100 }],
    v2: [{ revision: 'app-2', percent: 100 }],
    old: [{ revision: 'app-0', percent: 100 }],
  };
  const build = (tagHeaderRouting: boolean): RoutingTable =>
    buildRoutingTable([routeIngress({ name: 'app', targets, tagHeaderRouting })], serving(['app-0', 'app-1', 'app-2']));
  const tagHeader = (tag: string) => ({ 'knative-serving-tag': tag });

  for (const tagHeaderRouting of [true, false]) {
    it(`tag hosts select their revision (tag-header-based-routing ${tagHeaderRouting ? 'Enabled' : 'Disabled'})`, () => {
      const table = build(tagHeaderRouting);
      expect(revisionOf(match(table, request('v2-app.default.example.com')))).toBe('app-2');
      expect(revisionOf(match(table, request('old-app.default.example.com')))).toBe('app-0');
      expect(revisionOf(match(table, request('v2-app.default.svc.cluster.local', '/', {}, 'internal')))).toBe('app-2');
    });
  }

  it('the Knative-Serving-Tag header selects the tagged revision when tag-header routing is Enabled', () => {
    const table = build(true);
    expect(revisionOf(match(table, request('app.default.example.com', '/', tagHeader('v2'))))).toBe('app-2');
    expect(revisionOf(match(table, request('app.default.example.com', '/', tagHeader('old'))))).toBe('app-0');
    expect(revisionOf(match(table, request('app.default', '/', tagHeader('v2'), 'internal')))).toBe('app-2');
    expect(revisionOf(match(table, request('app.default.example.com', '/', tagHeader('unknown'))))).toBe('app-1');
    expect(revisionOf(match(table, request('app.default.example.com')))).toBe('app-1');
  });

  it('the Knative-Serving-Tag header is ignored when tag-header routing is Disabled', () => {
    const table = build(false);
    expect(revisionOf(match(table, request('app.default.example.com', '/', tagHeader('v2'))))).toBe('app-1');
  });
});
