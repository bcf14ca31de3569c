import { describe, expect, it } from 'vitest';
import type { Route } from '../../../lib/apis/serving.ts';
import { parseDomainConfig, domainForLabels } from '../../../lib/config/domain.ts';
import { parseFeatures } from '../../../lib/config/features.ts';
import { parseNetworkConfig } from '../../../lib/config/network.ts';
import { makeIngress, routeUrl, type IngressConfig } from '../../../controllers/route/resources/ingress.ts';
import { makeRouteService } from '../../../controllers/route/resources/service.ts';
import { groupTargets, resolveTraffic, type TrafficLookup } from '../../../controllers/route/traffic.ts';
import { refused } from '../../support/configIssues.ts';

const lookup = (
  revisions: Record<string, { ready?: boolean; failed?: boolean; service?: string }>,
  configs: Record<string, string | undefined> = {},
  failedConfigs: string[] = [],
): TrafficLookup => ({
  configuration: (name) =>
    name in configs ? { latestReadyRevisionName: configs[name], failed: failedConfigs.includes(name) } : undefined,
  revision: (name) => {
    const r = revisions[name];
    return (
      r && { ready: r.ready ?? true, failed: r.failed ?? false, protocol: 'http1', serviceLabel: r.service ?? 'hello' }
    );
  },
});

const route = (traffic: object[], labels: Record<string, string> = {}): Route =>
  ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Route',
    metadata: {
      name: 'hello',
      namespace: 'ns',
      uid: 'route-uid',
      labels: { 'serving.knative.dev/service': 'hello', ...labels },
    },
    spec: { traffic },
  }) as unknown as Route;

const config = (
  features: Record<string, string> = {},
  domains: Record<string, string> = { 'example.com': '' },
): IngressConfig => ({
  network: parseNetworkConfig(),
  domains: parseDomainConfig(domains),
  features: parseFeatures(features),
});

describe('resolving traffic', () => {
  const split = [
    { configurationName: 'hello', latestRevision: true, percent: 90 },
    { revisionName: 'hello-00001', latestRevision: false, percent: 10, tag: 'old' },
  ];

  it('resolves configuration targets to the latest ready revision and groups by tag', () => {
    const result = resolveTraffic(
      split,
      lookup({ 'hello-00001': {}, 'hello-00002': {} }, { hello: 'hello-00002' }),
      'hello',
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect([...result.targets.entries()]).toEqual([
      [
        '',
        [
          {
            configurationName: 'hello',
            revisionName: 'hello-00002',
            latestRevision: true,
            percent: 90,
            protocol: 'http1',
          },
          { tag: 'old', revisionName: 'hello-00001', latestRevision: false, percent: 10, protocol: 'http1' },
        ],
      ],
      // A tag alone takes all of its own traffic.
      ['old', [{ tag: 'old', revisionName: 'hello-00001', latestRevision: false, percent: 100, protocol: 'http1' }]],
    ]);
  });

  it('waits for configurations without a ready revision, and reports missing or foreign targets as failures', () => {
    expect(resolveTraffic(split, lookup({ 'hello-00001': {} }, { hello: undefined }), 'hello')).toEqual({
      ok: false,
      reason: 'RevisionMissing',
      message: 'Configuration "hello" is waiting for a Revision to become ready.',
      failed: false,
    });
    expect(resolveTraffic(split, lookup({}, { hello: undefined }), 'hello')).toMatchObject({
      ok: false,
      reason: 'RevisionMissing',
      message: 'Revision "hello-00001" referenced in traffic not found.',
      failed: true,
    });
    expect(resolveTraffic(split, lookup({ 'hello-00001': {} }), 'hello')).toMatchObject({
      ok: false,
      reason: 'ConfigurationMissing',
      failed: true,
    });
    expect(
      resolveTraffic([{ revisionName: 'x-1', percent: 100 }], lookup({ 'x-1': { service: 'other' } }), 'hello'),
    ).toMatchObject({ ok: false, reason: 'RevisionNotOwned' });
  });

  it('fails, rather than waits, when a target failed: a configuration with no ready revision, or a failed revision', () => {
    expect(resolveTraffic(split, lookup({ 'hello-00001': {} }, { hello: undefined }, ['hello']), 'hello')).toEqual({
      ok: false,
      reason: 'RevisionMissing',
      message: 'Configuration "hello" does not have any ready Revision.',
      failed: true,
    });
    // A configuration that failed but still has an earlier ready revision keeps serving it.
    expect(
      resolveTraffic(split, lookup({ 'hello-00001': {} }, { hello: 'hello-00001' }, ['hello']), 'hello'),
    ).toMatchObject({ ok: true });
    expect(
      resolveTraffic(split, lookup({ 'hello-00001': { ready: false, failed: true } }, { hello: undefined }), 'hello'),
    ).toEqual({
      ok: false,
      reason: 'RevisionMissing',
      message: 'Revision "hello-00001" failed to become ready.',
      failed: true,
    });
  });

  it('merges two targets on one revision', () => {
    const grouped = groupTargets([
      { revisionName: 'a', latestRevision: true, percent: 40, protocol: 'http1' },
      { revisionName: 'a', latestRevision: false, percent: 60, protocol: 'http1' },
    ]);
    expect(grouped.get('')).toEqual([{ revisionName: 'a', latestRevision: true, percent: 100, protocol: 'http1' }]);
  });
});

describe('makeIngress', () => {
  const targets = groupTargets([
    { revisionName: 'hello-00002', latestRevision: true, percent: 90, protocol: 'http1' },
    { tag: 'old', revisionName: 'hello-00001', latestRevision: false, percent: 10, protocol: 'http1' },
  ]);
  const revisionHeaders = (rev: string) => ({ 'Knative-Serving-Revision': rev, 'Knative-Serving-Namespace': 'ns' });

  it('a 90/10 split with a tag gives cluster-local and external rules with the right splits and tag hosts', () => {
    const ingress = makeIngress(route([]), targets, config());
    expect(ingress.metadata!.name).toBe('hello');
    expect(ingress.metadata!.labels).toEqual({
      'serving.knative.dev/service': 'hello',
      'serving.knative.dev/route': 'hello',
      'serving.knative.dev/routeNamespace': 'ns',
    });
    expect(ingress.metadata!.annotations).toEqual({
      'networking.knative.dev/ingress.class': 'pilotlight.ingress.networking.knative.dev',
      'networking.internal.knative.dev/tag-to-host': '{"old":["old-hello.ns.example.com"]}',
      // Upstream records the (here empty) rollout state on every Ingress.
      'networking.internal.knative.dev/rollout': '{}',
    });
    expect(ingress.spec!.rules).toEqual([
      {
        hosts: ['hello.ns', 'hello.ns.svc', 'hello.ns.svc.cluster.local'],
        visibility: 'ClusterLocal',
        http: {
          paths: [
            {
              splits: [
                {
                  serviceNamespace: 'ns',
                  serviceName: 'hello-00002',
                  servicePort: 80,
                  percent: 90,
                  appendHeaders: revisionHeaders('hello-00002'),
                },
                {
                  serviceNamespace: 'ns',
                  serviceName: 'hello-00001',
                  servicePort: 80,
                  percent: 10,
                  appendHeaders: revisionHeaders('hello-00001'),
                },
              ],
            },
          ],
        },
      },
      expect.objectContaining({ hosts: ['hello.ns.example.com'], visibility: 'ExternalIP' }),
      {
        hosts: ['old-hello.ns', 'old-hello.ns.svc', 'old-hello.ns.svc.cluster.local'],
        visibility: 'ClusterLocal',
        http: {
          paths: [
            {
              splits: [
                {
                  serviceNamespace: 'ns',
                  serviceName: 'hello-00001',
                  servicePort: 80,
                  percent: 100,
                  appendHeaders: revisionHeaders('hello-00001'),
                },
              ],
            },
          ],
        },
      },
      expect.objectContaining({ hosts: ['old-hello.ns.example.com'], visibility: 'ExternalIP' }),
    ]);
    expect(ingress.spec!.httpOption).toBe('Enabled');
  });

  it('mid-rollout, the configuration target splits into the rollout revisions, which the Ingress records', () => {
    const rolling = groupTargets([
      { revisionName: 'hello-00002', configurationName: 'hello', latestRevision: true, percent: 90, protocol: 'h2c' },
      { tag: 'old', revisionName: 'hello-00001', latestRevision: false, percent: 10, protocol: 'http1' },
    ]);
    const rollout = {
      configurations: [
        {
          configurationName: 'hello',
          tag: '',
          percent: 90,
          revisions: [
            { revisionName: 'hello-00001', percent: 59 },
            { revisionName: 'hello-00002', percent: 31 },
          ],
          stepParams: { startTime: 5, stepDuration: 7, stepSize: 3, nextStepTime: 12 },
        },
      ],
    };
    const ingress = makeIngress(route([]), rolling, config(), rollout);
    const to = (rule: number) =>
      ingress.spec!.rules![rule]!.http!.paths![0]!.splits!.map((s) => `${s.serviceName}:${s.servicePort}:${s.percent}`);
    // As upstream, the pinned 10% stays a split of its own, and the rolled-out revisions keep the target's port.
    expect(to(0)).toEqual(['hello-00001:81:59', 'hello-00002:81:31', 'hello-00001:80:10']);
    expect(to(1)).toEqual(to(0));
    expect(to(2)).toEqual(['hello-00001:80:100']);
    expect(JSON.parse(ingress.metadata!.annotations!['networking.internal.knative.dev/rollout']!)).toEqual({
      configurations: [
        {
          configurationName: 'hello',
          percent: 90,
          revisions: [
            { revisionName: 'hello-00001', percent: 59 },
            { revisionName: 'hello-00002', percent: 31 },
          ],
          stepParams: { starttime: 5, stepDuration: 7, stepSize: 3, nextStepTime: 12 },
        },
      ],
    });
    // Without a rollout given, the Ingress serves the traffic as asked and records it as the state.
    const fresh = makeIngress(route([]), rolling, config());
    expect(fresh.spec!.rules![0]!.http!.paths![0]!.splits!.map((s) => `${s.serviceName}:${s.percent}`)).toEqual([
      'hello-00002:90',
      'hello-00001:10',
    ]);
    expect(fresh.metadata!.annotations!['networking.internal.knative.dev/rollout']).toBe(
      '{"configurations":[{"configurationName":"hello","percent":90,"revisions":[{"revisionName":"hello-00002","percent":90}],"stepParams":{}}]}',
    );
  });

  it('with tag-header routing, the default hosts also route each tag by header', () => {
    const ingress = makeIngress(route([]), targets, config({ 'tag-header-based-routing': 'Enabled' }));
    const paths = ingress.spec!.rules![1]!.http!.paths;
    expect(
      paths.map((p) => ({
        headers: p.headers,
        appendHeaders: p.appendHeaders,
        to: p.splits.map((s) => `${s.serviceName}:${s.percent}`),
      })),
    ).toEqual([
      {
        headers: { 'Knative-Serving-Tag': { exact: 'old' } },
        appendHeaders: { 'Knative-Serving-Tag': 'old' },
        to: ['hello-00001:100'],
      },
      {
        headers: undefined,
        appendHeaders: { 'Knative-Serving-Default-Route': 'true' },
        to: ['hello-00002:90', 'hello-00001:10'],
      },
    ]);
  });

  it('a cluster-local route, or one without a configured domain, has no external rules', () => {
    const local = makeIngress(route([], { 'networking.knative.dev/visibility': 'cluster-local' }), targets, config());
    expect(local.spec!.rules!.map((r) => r.visibility)).toEqual(['ClusterLocal', 'ClusterLocal']);
    expect(
      makeIngress(route([]), targets, config({}, {})).spec!.rules!.every((r) => r.visibility === 'ClusterLocal'),
    ).toBe(true);
    expect(routeUrl(route([]), config({}, {}))).toBe('http://hello.ns.svc.cluster.local');
    expect(routeUrl(route([]), config())).toBe('http://hello.ns.example.com');
  });

  it('picks the domain whose selector matches the most labels', () => {
    const domains = parseDomainConfig({
      'example.com': '',
      'prod.example.com': 'selector:\n  env: prod',
      'a.example.com': 'selector: {env: prod}',
    });
    expect(domainForLabels(domains, { env: 'prod' })).toBe('a.example.com');
    expect(domainForLabels(domains, { env: 'dev' })).toBe('example.com');
    expect(refused(parseDomainConfig, { 'Bad Domain': '' })).toMatch(/Bad Domain: is not a domain name/);
  });

  it('rejects templates that would not make host names', () => {
    expect(refused(parseNetworkConfig, { 'domain-template': '{{.Name}}.{{.Labels}}.{{.Domain}}' })).toMatch(
      /domain-template: may only use/,
    );
    expect(refused(parseNetworkConfig, { 'tag-template': '{{.Name}}' })).toMatch(/tag-template: must use \{\{.Tag\}\}/);
  });
});

describe('makeRouteService', () => {
  const annotated = (labels: Record<string, string> = {}) => {
    const r = route([], labels);
    r.metadata!.annotations = { 'example.com/note': 'x' };
    return r;
  };

  it("names the route's Service after it, owned by it, labelled with the route, pointing at the route's host", () => {
    expect(makeRouteService(annotated(), '', config())).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'hello',
        namespace: 'ns',
        labels: { 'serving.knative.dev/service': 'hello', 'serving.knative.dev/route': 'hello' },
        annotations: { 'example.com/note': 'x' },
        ownerReferences: [
          {
            apiVersion: 'serving.knative.dev/v1',
            kind: 'Route',
            name: 'hello',
            uid: 'route-uid',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        type: 'ExternalName',
        externalName: 'hello.ns.example.com',
        sessionAffinity: 'None',
        ports: [{ name: 'http2', appProtocol: 'kubernetes.io/h2c', protocol: 'TCP', port: 80, targetPort: 80 }],
      },
    });
  });

  it('a tag gets its own Service, named like its host', () => {
    const tagged = makeRouteService(annotated(), 'old', config());
    expect(tagged.metadata?.name).toBe('old-hello');
    expect(tagged.spec?.externalName).toBe('old-hello.ns.example.com');
  });

  it('a cluster-local route points at its cluster-local host, and its visibility label is not passed on', () => {
    const local = makeRouteService(annotated({ 'networking.knative.dev/visibility': 'cluster-local' }), '', config());
    expect(local.spec?.externalName).toBe('hello.ns.svc.cluster.local');
    expect(local.metadata?.labels).toEqual({
      'serving.knative.dev/service': 'hello',
      'serving.knative.dev/route': 'hello',
    });
  });

  it("points at the Ingress's load balancer once it reports one, the private one first", () => {
    const lb = (host: string) => ({ ingress: [{ domainInternal: host }] });
    expect(
      makeRouteService(annotated(), '', config(), {
        publicLoadBalancer: lb('public.gw.svc.cluster.local'),
        privateLoadBalancer: lb('private.gw.svc.cluster.local'),
      }).spec?.externalName,
    ).toBe('private.gw.svc.cluster.local');
    expect(
      makeRouteService(annotated(), 'old', config(), { publicLoadBalancer: lb('public.gw.svc.cluster.local') }).spec
        ?.externalName,
    ).toBe('public.gw.svc.cluster.local');
    // An address rather than a name keeps the placeholder target.
    expect(
      makeRouteService(annotated(), '', config(), { publicLoadBalancer: { ingress: [{ ip: '10.0.0.1' }] } }).spec
        ?.externalName,
    ).toBe('hello.ns.example.com');
  });
});
