import { describe, expect, it } from 'vitest';
import { route, type ForwardDecision, type RequestHead, type RouteDecision } from '../../../gateway/routing/index.ts';
import { buildRoutingTable, type Ingress } from '../../../gateway/routing/table.ts';
import { xorshiftRandomInt } from '../../../gateway/routing/split.ts';
import { notServedReason } from '../../../gateway/status.ts';
import { EMPTY_TLS_TABLE } from '../../../gateway/tls.ts';
import { pathsIngress, routeIngress, serving } from '../../../harness/kingress.ts';

const LOCAL = 'hello.default.svc.cluster.local';

/** A DomainMapping's KIngress (controllers/domainmapping/resources/ingress.ts). */
const mapping = (domain: string, rewriteHost: string): Ingress =>
  pathsIngress(
    domain,
    [domain],
    [
      {
        rewriteHost,
        splits: [
          {
            serviceNamespace: 'default',
            serviceName: 'hello',
            servicePort: 80,
            percent: 100,
            appendHeaders: { 'K-Original-Host': domain },
          },
        ],
      },
    ],
  );

const request = (host: string, listener: RequestHead['listener'] = 'external', path = '/'): RequestHead => ({
  listener,
  host,
  path,
  headers: {},
});

function forwarded(decision: RouteDecision): ForwardDecision {
  if (decision.kind !== 'forward') throw new Error(`expected a forward decision, got ${JSON.stringify(decision)}`);
  return decision;
}

const hello = routeIngress({
  name: 'hello',
  targets: {
    '': [
      { revision: 'hello-1', percent: 50 },
      { revision: 'hello-2', percent: 50 },
    ],
  },
});
const table = () =>
  buildRoutingTable([mapping('app.example.org', LOCAL), hello], serving(['hello-1', 'hello-2']), {
    randomInt: xorshiftRandomInt(1),
  });

describe('a path with rewriteHost', () => {
  it("forwards as the rewritten host does, sending that host upstream with both paths' headers", () => {
    const decision = forwarded(route(table(), request('app.example.org')));
    expect(decision.rewriteHost).toBe(LOCAL);
    expect(['hello-1', 'hello-2']).toContain(decision.service.name);
    // The proxy sets K-Original-Host from the client's Host; the mapping's copy would duplicate it.
    expect(Object.fromEntries(decision.setHeaders)).toEqual({
      'knative-serving-revision': decision.service.name,
      'knative-serving-namespace': 'default',
    });
    expect(decision.ingress).toEqual({ namespace: 'default', name: 'hello' });
  });

  it("shares the rewritten host's split window and upstreams, whichever way requests come in", () => {
    const t = table();
    const names = Array.from(
      { length: 100 },
      (_, i) => forwarded(route(t, i % 2 ? request('app.example.org') : request(LOCAL, 'internal'))).service.name,
    );
    expect(names.filter((n) => n === 'hello-1')).toHaveLength(50);
    const direct = forwarded(route(t, request(LOCAL, 'internal')));
    const mapped = forwarded(route(t, request('app.example.org')));
    expect(direct.upstream).toBe(t.upstreams.get(direct.upstream.address));
    expect(mapped.upstream).toBe(t.upstreams.get(mapped.upstream.address));
  });

  it('does not depend on the order Ingresses come in, and rejects a rewritten host nobody serves or that rewrites again', () => {
    const reversed = buildRoutingTable([hello, mapping('app.example.org', LOCAL)], serving(['hello-1', 'hello-2']));
    expect(forwarded(route(reversed, request('app.example.org'))).rewriteHost).toBe(LOCAL);
    const chained = buildRoutingTable(
      [mapping('a.example.org', 'b.example.org'), mapping('b.example.org', 'a.example.org')],
      new Map(),
    );
    expect(route(chained, request('a.example.org'))).toMatchObject({
      kind: 'reject',
      status: 503,
      reason: 'unserved-rewrite-host',
    });
    const nowhere = buildRoutingTable([mapping('a.example.org', LOCAL)], new Map());
    expect(route(nowhere, request('a.example.org'))).toMatchObject({
      kind: 'reject',
      status: 503,
      message: `rewritten host ${LOCAL} is not served by any Ingress here`,
    });
  });

  it('makes its Ingress served once the rewritten host is, whatever its own split names', () => {
    const dm = mapping('app.example.org', LOCAL);
    const live = (ingresses: Ingress[]) => {
      const t = buildRoutingTable(ingresses, serving(['hello-1', 'hello-2']));
      const snapshot = { ingresses, backends: serving(['hello-1', 'hello-2']), secrets: new Map() };
      return { table: t, alternatives: new Map(), snapshot, tls: EMPTY_TLS_TABLE };
    };
    expect(notServedReason(dm, live([dm]))).toBe(`rewritten host ${LOCAL} is not served yet`);
    expect(notServedReason(dm, live([dm, hello]))).toBeUndefined();
  });
});
