// ingressHash against upstream's own ingress.ComputeHash (knative.dev/networking
// v0.0.0-20240716111826-bab7f2a3e556, pkg/ingress), which KIngress conformance (TestProbeHeaders)
// compares the gateway's probe answer with. Each hash below was printed by a throwaway Go program,
// built with Go 1.26.8, that decoded the object next to it into v1alpha1.Ingress the way client-go
// does (sigs.k8s.io/json, case-sensitive) and called ComputeHash on it; the program is not part of
// the repository. The objects cover the KIngress shapes pilotlight writes (Route, tag routing,
// DomainMapping, the conformance test's own) and the corners of Go's encoding: struct field order,
// omitempty, null versus empty lists, unknown fields, map key order, string escaping.
import { describe, expect, it } from 'vitest';
import { ingressHash } from '../../../gateway/routing/probe.ts';
import { buildRoutingTable, type Ingress } from '../../../gateway/routing/table.ts';

interface Vector {
  title: string;
  hash: string;
  ingress: unknown;
}

const vectors: Vector[] = [
  {
    title: 'the conformance probe test shape: one split, no percent',
    hash: '77162b7e666bda8e032ff4217b55074ad9a665dcc7cdd0997ecf7bdd5c2a7ee1',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'ingress-probe-abcde', namespace: 'serving-tests' },
      spec: {
        rules: [
          {
            hosts: ['ingress-probe-abcde.example.com'],
            visibility: 'ExternalIP',
            http: {
              paths: [
                {
                  splits: [
                    { serviceName: 'ingress-probe-abcde', serviceNamespace: 'serving-tests', servicePort: 8080 },
                  ],
                },
              ],
            },
          },
        ],
      },
    },
  },
  {
    title: "a Route's: two visibilities, a 90/10 split with appendHeaders",
    hash: '9dadfcafb23c5a83a99c2a274456062b4642238314209896f199763cc6f8364d',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: {
        name: 'app',
        namespace: 'default',
        labels: { 'serving.knative.dev/route': 'app' },
        generation: 3,
        resourceVersion: '123',
      },
      spec: {
        rules: [
          {
            hosts: ['app.default', 'app.default.svc', 'app.default.svc.cluster.local'],
            visibility: 'ClusterLocal',
            http: {
              paths: [
                {
                  splits: [
                    {
                      serviceNamespace: 'default',
                      serviceName: 'app-00001',
                      servicePort: 80,
                      percent: 90,
                      appendHeaders: {
                        'Knative-Serving-Revision': 'app-00001',
                        'Knative-Serving-Namespace': 'default',
                      },
                    },
                    {
                      serviceNamespace: 'default',
                      serviceName: 'app-00002',
                      servicePort: 80,
                      percent: 10,
                      appendHeaders: {
                        'Knative-Serving-Revision': 'app-00002',
                        'Knative-Serving-Namespace': 'default',
                      },
                    },
                  ],
                },
              ],
            },
          },
          {
            hosts: ['app.default.example.com'],
            visibility: 'ExternalIP',
            http: {
              paths: [
                {
                  splits: [
                    {
                      serviceNamespace: 'default',
                      serviceName: 'app-00001',
                      servicePort: 80,
                      percent: 90,
                      appendHeaders: {
                        'Knative-Serving-Revision': 'app-00001',
                        'Knative-Serving-Namespace': 'default',
                      },
                    },
                    {
                      serviceNamespace: 'default',
                      serviceName: 'app-00002',
                      servicePort: 80,
                      percent: 10,
                      appendHeaders: {
                        'Knative-Serving-Revision': 'app-00002',
                        'Knative-Serving-Namespace': 'default',
                      },
                    },
                  ],
                },
              ],
            },
          },
        ],
        httpOption: 'Enabled',
      },
      status: { observedGeneration: 3, conditions: [{ type: 'Ready', status: 'True' }] },
    },
  },
  {
    title: 'tag header routing: header matches and path appendHeaders',
    hash: '97a096e92f6edd790145f77c1251ea45363ceb9393d4a82f2579307263d4da47',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'tagged', namespace: 'ns1' },
      spec: {
        rules: [
          {
            hosts: ['tagged.ns1.example.com'],
            visibility: 'ExternalIP',
            http: {
              paths: [
                {
                  headers: { 'Knative-Serving-Tag': { exact: 'blue' } },
                  splits: [
                    {
                      serviceNamespace: 'ns1',
                      serviceName: 'tagged-blue',
                      servicePort: 80,
                      percent: 100,
                      appendHeaders: { 'Knative-Serving-Revision': 'tagged-blue', 'Knative-Serving-Namespace': 'ns1' },
                    },
                  ],
                  appendHeaders: { 'Knative-Serving-Tag': 'blue' },
                },
                {
                  splits: [
                    {
                      serviceNamespace: 'ns1',
                      serviceName: 'tagged-green',
                      servicePort: 80,
                      percent: 100,
                      appendHeaders: { 'Knative-Serving-Revision': 'tagged-green', 'Knative-Serving-Namespace': 'ns1' },
                    },
                  ],
                  appendHeaders: { 'Knative-Serving-Default-Route': 'true' },
                },
              ],
            },
          },
          {
            hosts: ['blue-tagged.ns1.example.com'],
            visibility: 'ExternalIP',
            http: {
              paths: [
                {
                  splits: [
                    {
                      serviceNamespace: 'ns1',
                      serviceName: 'tagged-blue',
                      servicePort: 80,
                      percent: 100,
                      appendHeaders: { 'Knative-Serving-Revision': 'tagged-blue', 'Knative-Serving-Namespace': 'ns1' },
                    },
                  ],
                  appendHeaders: { 'Knative-Serving-Tag': 'blue' },
                },
              ],
            },
          },
        ],
      },
    },
  },
  {
    title: "a DomainMapping's: rewriteHost, tls, httpOption Redirected",
    hash: '0f479470a6e092618ad7ed94322f6ae4b2319d39b19e5461c7ab39cefa1fdd03',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'www.example.org', namespace: 'default' },
      spec: {
        tls: [{ hosts: ['www.example.org'], secretName: 'www.example.org', secretNamespace: 'default' }],
        rules: [
          {
            hosts: ['www.example.org'],
            visibility: 'ExternalIP',
            http: {
              paths: [
                {
                  rewriteHost: 'app.default.svc.cluster.local',
                  splits: [
                    {
                      serviceName: 'app',
                      serviceNamespace: 'default',
                      servicePort: 80,
                      percent: 100,
                      appendHeaders: { 'K-Original-Host': 'www.example.org' },
                    },
                  ],
                },
              ],
            },
          },
        ],
        httpOption: 'Redirected',
      },
    },
  },
  {
    title: 'paths, named ports, several header matches (keys sorted)',
    hash: '58a8432c6a5ac4e1e561fd40d5b1a32788416efd0ba20ee913ff0872c84fdb0a',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'paths', namespace: 'team-a' },
      spec: {
        rules: [
          {
            hosts: ['b.example.com', 'a.example.com'],
            visibility: 'ExternalIP',
            http: {
              paths: [
                {
                  path: '/api/v2',
                  headers: {
                    'X-Zeta': { exact: 'z' },
                    'X-Alpha': { exact: 'a' },
                    'x-alpha': { exact: 'lower' },
                    'X-Mid': { exact: '' },
                  },
                  splits: [
                    { serviceNamespace: 'team-a', serviceName: 'api', servicePort: 'http2', percent: 75 },
                    { serviceNamespace: 'team-a', serviceName: 'api-canary', servicePort: 'http2', percent: 25 },
                  ],
                  appendHeaders: { Zed: '1', Alpha: '2', 'alpha-2': '3' },
                },
                { path: '/', splits: [{ serviceNamespace: 'team-a', serviceName: 'web', servicePort: 8012 }] },
              ],
            },
          },
        ],
      },
    },
  },
  {
    title: 'special characters in header values and keys',
    hash: 'ebba92d3e4955034f7d71990a701602d46675dd87ff0f0d5e8efdafdd898020b',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'special', namespace: 'default' },
      spec: {
        rules: [
          {
            hosts: ['special.example.com'],
            visibility: 'ExternalIP',
            http: {
              paths: [
                {
                  headers: {
                    'X-Html': { exact: '<script>&amp;</script>' },
                    'X-Quote': { exact: 'say "hi" \\ back' },
                    'X-Ctl': { exact: 'tab\there\nnl\rcr\b\f\u0001\u001f\u007f' },
                  },
                  splits: [
                    {
                      serviceNamespace: 'default',
                      serviceName: 'special',
                      servicePort: 80,
                      percent: 100,
                      appendHeaders: {
                        'X-<&>': '<&>',
                        'X-Unicode': 'caf\u00e9 \u65e5\u672c \ud83d\ude00',
                        'X-Sep': 'a\u2028b\u2029c',
                        'X-Slash': '/path?q=1&r=2',
                      },
                    },
                  ],
                },
              ],
            },
          },
        ],
      },
    },
  },
  {
    title: 'map keys ordered by UTF-8 bytes, not UTF-16 code units',
    hash: 'c4dae05a236e7d668857e0d878a9fdc3574a0afedad7c308945cc040b2525124',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'keys', namespace: 'default' },
      spec: {
        rules: [
          {
            hosts: ['keys.example.com'],
            visibility: 'ExternalIP',
            http: {
              paths: [
                {
                  splits: [
                    {
                      serviceNamespace: 'default',
                      serviceName: 'keys',
                      servicePort: 80,
                      appendHeaders: {
                        '\uff61': 'halfwidth',
                        '\ud83d\ude00': 'emoji',
                        '\u00e9': 'e-acute',
                        Z: 'ascii',
                      },
                    },
                  ],
                },
              ],
            },
          },
        ],
      },
    },
  },
  {
    title: 'omitempty, null vs empty lists, unknown fields',
    hash: '1d7c44f4ea3f5f1a990aeca32072b8a791b4222f99cf319d1cfcd595ddf6aefe',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'empty', namespace: 'default' },
      spec: {
        tls: [],
        rules: [
          {
            hosts: [],
            visibility: '',
            http: {
              paths: [
                {
                  path: '',
                  rewriteHost: '',
                  headers: {},
                  splits: [
                    {
                      serviceNamespace: 'default',
                      serviceName: 'e',
                      servicePort: 80,
                      percent: 0,
                      appendHeaders: {},
                      weight: 5,
                    },
                  ],
                  appendHeaders: {},
                  timeout: '10s',
                  retries: { attempts: 3 },
                },
              ],
            },
            extra: true,
          },
          { hosts: ['nohttp.example.com'], visibility: 'ClusterLocal' },
          { hosts: ['emptyhttp.example.com'], http: {} },
          { hosts: ['nullhttp.example.com'], http: null },
          { hosts: ['emptypaths.example.com'], http: { paths: [] } },
          {
            hosts: ['nullsplits.example.com'],
            http: { paths: [{ path: '/a', splits: null }, { path: '/b' }, { path: '/c', splits: [] }] },
          },
        ],
        httpOption: '',
        unknownSpecField: { nested: [1, 2] },
      },
    },
  },
  {
    title: 'nulls and missing required fields decode to Go zero values',
    hash: '9f50391c6770a3ee835a03609f169279fd0e3a86ce85dc74ed0297f8310e0764',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'nulls', namespace: 'default' },
      spec: {
        tls: [{ hosts: ['n.example.com'] }, {}],
        rules: [
          {
            hosts: ['n.example.com', null],
            visibility: null,
            http: {
              paths: [
                {
                  headers: { 'X-A': null, 'X-B': {} },
                  splits: [
                    null,
                    { serviceName: 'n' },
                    {
                      serviceNamespace: 'default',
                      serviceName: 'n',
                      servicePort: null,
                      percent: null,
                      appendHeaders: { 'X-Null': null },
                    },
                  ],
                },
              ],
            },
          },
        ],
      },
    },
  },
  {
    title: 'a lone surrogate reads as U+FFFD',
    hash: '44eabac68b60a0e3fb3d5ddc76af9861db5d0fb9234885e9dc1ef50eac725eef',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'lone', namespace: 'default' },
      spec: {
        rules: [
          {
            hosts: ['lone.example.com'],
            http: {
              paths: [
                {
                  appendHeaders: { 'X-\ud800': 'a\udc00b', 'X-\ufffe': 'c' },
                  splits: [{ serviceNamespace: 'default', serviceName: 'lone', servicePort: 80 }],
                },
              ],
            },
          },
        ],
      },
    },
  },
  {
    title: 'no spec',
    hash: '16dd0519ffec29ea29efb1a24e3a2c9476a4409c01c36e78f1ce46eba9d3fa6a',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'nospec', namespace: 'other' },
    },
  },
  {
    title: 'empty spec',
    hash: '16dd0519ffec29ea29efb1a24e3a2c9476a4409c01c36e78f1ce46eba9d3fa6a',
    ingress: {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name: 'nospec', namespace: 'other' },
      spec: {},
    },
  },
];

describe('ingressHash', () => {
  for (const vector of vectors) {
    it(`equals upstream's ComputeHash: ${vector.title}`, () => {
      expect(ingressHash(vector.ingress as Ingress)).toBe(vector.hash);
    });
  }

  it('is the hash the routing table answers probes with, computed when the table is built', () => {
    const conformance = vectors[0]!;
    const ingress = conformance.ingress as Ingress;
    const table = buildRoutingTable([ingress], new Map());
    const host = table.external.get('ingress-probe-abcde.example.com');
    expect(host?.routes.map((r) => r.probe.hash)).toEqual([conformance.hash]);
  });

  it('does not depend on the key order of the object', () => {
    const reversed = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(reversed);
      if (value === null || typeof value !== 'object') return value;
      return Object.fromEntries(
        Object.entries(value)
          .reverse()
          .map(([k, v]) => [k, reversed(v)]),
      );
    };
    for (const vector of vectors) expect(ingressHash(reversed(vector.ingress) as Ingress)).toBe(vector.hash);
  });
});
