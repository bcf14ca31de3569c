import { describe, expect, it } from 'vitest';
import { apply, createNamespace, kubectl, mustSucceed } from '../support/kube.ts';

type Obj = Record<string, any>;

const service = (edit: (svc: Obj) => void = () => {}): Obj => {
  const svc: Obj = {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'hello' },
    spec: { template: { spec: { containers: [{ image: 'dev.local/hello:1' }] } } },
  };
  edit(svc);
  return svc;
};

const spec = (svc: Obj) => svc.spec.template.spec;
const container = (svc: Obj) => spec(svc).containers[0];
const annotate = (svc: Obj, annotations: Record<string, string>) => {
  svc.spec.template.metadata = { annotations };
};

interface Case {
  name: string;
  manifest: Obj;
  field: string;
  rule: RegExp;
}

const cases: Case[] = [
  {
    name: 'traffic percents that do not add up to 100',
    manifest: service((s) => {
      s.spec.traffic = [
        { latestRevision: true, percent: 60 },
        { revisionName: 'hello-00001', percent: 30 },
      ];
    }),
    field: 'spec.traffic',
    rule: /percents of all traffic targets must add up to 100/,
  },
  {
    name: 'a duplicate tag',
    manifest: service((s) => {
      s.spec.traffic = [
        { percent: 50, tag: 'a' },
        { revisionName: 'hello-00001', percent: 50, tag: 'a' },
      ];
    }),
    field: 'spec.traffic',
    rule: /tags must be unique/,
  },
  {
    name: 'a tag that is not a DNS label',
    manifest: service((s) => {
      s.spec.traffic = [{ percent: 100, tag: 'Current_Version' }];
    }),
    field: 'spec.traffic[0].tag',
    rule: /should match '\^\[a-z\]/,
  },
  {
    name: 'latestRevision true together with a revisionName',
    manifest: service((s) => {
      s.spec.traffic = [{ percent: 100, revisionName: 'hello-00001', latestRevision: true }];
    }),
    field: 'spec.traffic[0].latestRevision',
    rule: /latestRevision may only be true when revisionName is not set/,
  },
  {
    name: 'containerConcurrency below zero',
    manifest: service((s) => {
      spec(s).containerConcurrency = -1;
    }),
    field: 'spec.template.spec.containerConcurrency',
    rule: /should be greater than or equal to 0/,
  },
  {
    name: 'containerConcurrency above container-concurrency-max-limit',
    manifest: service((s) => {
      spec(s).containerConcurrency = 1001;
    }),
    field: 'spec.template.spec.containerConcurrency',
    rule: /1001 is out of range: must be between 0 and 1000/,
  },
  {
    name: 'timeoutSeconds above max-revision-timeout-seconds',
    manifest: service((s) => {
      spec(s).timeoutSeconds = 601;
    }),
    field: 'spec.template.spec.timeoutSeconds',
    rule: /601 is out of range: must be between 0 and 600/,
  },
  {
    name: 'min-scale above max-scale',
    manifest: service((s) =>
      annotate(s, { 'autoscaling.knative.dev/min-scale': '5', 'autoscaling.knative.dev/max-scale': '2' }),
    ),
    field: 'spec.template.metadata.annotations[autoscaling.knative.dev/max-scale]',
    rule: /max-scale=2 is less than min-scale=5/,
  },
  {
    name: 'an autoscaling window out of range',
    manifest: service((s) => annotate(s, { 'autoscaling.knative.dev/window': '5s' })),
    field: 'spec.template.metadata.annotations[autoscaling.knative.dev/window]',
    rule: /5s is out of range: must be between 6s and 3600s/,
  },
  ...[8012, 8022, 9090, 9091].map(
    (port): Case => ({
      name: `the reserved port ${port}`,
      manifest: service((s) => {
        container(s).ports = [{ containerPort: port }];
      }),
      field: 'spec.template.spec.containers[0].ports[0].containerPort',
      rule: /may not be one of 8008, 8012, 8013, 8022, 9090, 9091/,
    }),
  ),
  {
    name: 'a container without image',
    manifest: service((s) => {
      delete container(s).image;
    }),
    field: 'spec.template.spec.containers[0].image',
    rule: /Required value/,
  },
  {
    name: 'two containers that both set a port',
    manifest: service((s) => {
      spec(s).containers = [
        { image: 'dev.local/a:1', ports: [{ containerPort: 8080 }] },
        { image: 'dev.local/b:1', ports: [{ containerPort: 8081 }] },
      ];
    }),
    field: 'spec.template.spec.containers',
    rule: /exactly one of them must set a port/,
  },
  {
    name: 'a container with two ports',
    manifest: service((s) => {
      container(s).ports = [{ containerPort: 8080 }, { containerPort: 8081 }];
    }),
    field: 'spec.template.spec.containers[0].ports',
    rule: /must have at most 1 item/,
  },
  {
    name: 'a reserved environment variable',
    manifest: service((s) => {
      container(s).env = [{ name: 'K_SERVICE', value: 'x' }];
    }),
    field: 'spec.template.spec.containers[0].env[0].name',
    rule: /reserved environment variables/,
  },
  {
    name: 'an envFrom with both a ConfigMap and a Secret',
    manifest: service((s) => {
      container(s).envFrom = [{ configMapRef: { name: 'c' }, secretRef: { name: 's' } }];
    }),
    field: 'spec.template.spec.containers[0].envFrom[0]',
    rule: /exactly one of configMapRef or secretRef must be set/,
  },
  {
    name: 'a negative runAsUser',
    manifest: service((s) => {
      container(s).securityContext = { runAsUser: -10 };
    }),
    field: 'spec.template.spec.containers[0].securityContext.runAsUser',
    rule: /should be greater than or equal to 0/,
  },
  {
    name: 'a negative supplemental group',
    manifest: service((s) => {
      spec(s).securityContext = { supplementalGroups: [1000, -1] };
    }),
    field: 'spec.template.spec.securityContext.supplementalGroups',
    rule: /every group ID must be between 0 and 2147483647/,
  },
  {
    name: 'PORT in the serving container',
    manifest: service((s) => {
      container(s).env = [{ name: 'PORT', value: '9000' }];
    }),
    field: 'spec.template.spec.containers',
    rule: /PORT is a reserved environment variable in the serving container/,
  },
  {
    name: 'an autoscaling annotation on the Service itself',
    manifest: service((s) => {
      s.metadata.annotations = { 'autoscaling.knative.dev/min-scale': '1' };
    }),
    field: 'metadata.annotations[autoscaling.knative.dev/min-scale]',
    rule: /only allowed on spec.template.metadata.annotations/,
  },
  {
    name: 'a PodSpec field behind a feature flag that is off',
    manifest: service((s) => {
      spec(s).nodeSelector = { disk: 'ssd' };
    }),
    field: 'spec.template.spec.nodeSelector',
    rule: /kubernetes.podspec-nodeselector: enabled in ConfigMap config-features/,
  },
  {
    name: 'a revision name that does not start with the Service name',
    manifest: service((s) => {
      s.spec.template.metadata = { name: 'other-v1' };
    }),
    field: 'spec.template.metadata.name',
    rule: /revision name must start with "hello-"/,
  },
];

const route = (traffic: Obj[]): Obj => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Route',
  metadata: { name: 'hello' },
  spec: { traffic },
});

cases.push(
  {
    name: 'a Route target with both revisionName and configurationName',
    manifest: route([{ revisionName: 'hello-00001', configurationName: 'hello', percent: 100 }]),
    field: 'spec.traffic[0]',
    rule: /revisionName and configurationName are mutually exclusive/,
  },
  {
    name: 'a Route target with neither revisionName nor configurationName',
    manifest: route([{ percent: 100 }]),
    field: 'spec.traffic[0]',
    rule: /one of revisionName or configurationName must be set/,
  },
);

const domainMapping = (
  name: string,
  ref: Obj = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' },
  extra: Obj = {},
): Obj => ({
  apiVersion: 'serving.knative.dev/v1beta1',
  kind: 'DomainMapping',
  metadata: { name },
  spec: { ref, ...extra },
});

cases.push(
  {
    name: 'a DomainMapping whose name is not a fully qualified domain name',
    manifest: domainMapping('hello'),
    field: 'metadata.name',
    rule: /invalid name "hello": must be a fully qualified domain name/,
  },
  {
    name: 'a DomainMapping for a cluster-local name',
    manifest: domainMapping('hello.default.svc.cluster.local'),
    field: 'metadata.name',
    rule: /must not be a subdomain of cluster local domain "cluster.local"/,
  },
  {
    name: 'a DomainMapping whose ref has no kind',
    manifest: domainMapping('app.example.org', { apiVersion: 'serving.knative.dev/v1', name: 'hello' }),
    field: 'spec.ref.kind',
    rule: /Required value/,
  },
  {
    name: 'a DomainMapping whose ref is in another namespace',
    manifest: domainMapping('app.example.org', {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      name: 'hello',
      namespace: 'elsewhere',
    }),
    field: 'spec.ref.namespace',
    rule: /mismatched namespaces: parent namespace: "invalid-[0-9a-f]+" does not match ref: "elsewhere"/,
  },
  {
    name: 'a DomainMapping whose ref names a group',
    manifest: domainMapping('app.example.org', {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      name: 'hello',
      group: 'serving.knative.dev',
    }),
    field: 'spec.ref.group',
    rule: /group is not allowed; use apiVersion/,
  },
  {
    name: 'a DomainMapping with tls but no secretName',
    manifest: domainMapping('app.example.org', undefined, { tls: {} }),
    field: 'spec.tls.secretName',
    rule: /Required value/,
  },
);

describe('invalid manifests are rejected at apply time with the field and the rule', () => {
  it.each(cases)('$name', async ({ manifest, field, rule }) => {
    const ns = await createNamespace('invalid');
    const result = await apply(ns, manifest);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(field);
    expect(result.stderr).toMatch(rule);
  });
});

describe("Knative's own wording where its conformance tests check it", () => {
  it("an invalid serviceAccountName: the value, the field, then Kubernetes' DNS-1123 rule", async () => {
    const ns = await createNamespace('account');
    const result = await apply(
      ns,
      service((s) => {
        spec(s).serviceAccountName = 'foo@bar.baz';
      }),
    );
    expect(result.code).not.toBe(0);
    // TestServiceAccountValidation wants this text (k8s.io/apimachinery IsDNS1123Subdomain's message).
    expect(result.stderr).toContain(
      'foo@bar.baz: spec.template.spec.serviceAccountName\n' +
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end " +
        "with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  });
});

describe('what Knative accepts', () => {
  it('PORT in a sidecar, which Knative sets only in the serving container', async () => {
    const ns = await createNamespace('sidecar-port');
    await mustSucceed(
      apply(
        ns,
        service((s) => {
          spec(s).containers = [
            { image: 'dev.local/app:1', ports: [{ containerPort: 8080 }] },
            { image: 'dev.local/sidecar:1', env: [{ name: 'PORT', value: '9000' }] },
          ];
        }),
      ),
    );
  });
});

describe('rules that compare an update with the stored object', () => {
  it('a changed template under an unchanged revision name is rejected', async () => {
    const ns = await createNamespace('byo');
    const first = service((s) => {
      s.spec.template.metadata = { name: 'hello-v1' };
    });
    await mustSucceed(apply(ns, first));
    const changed = service((s) => {
      s.spec.template.metadata = { name: 'hello-v1' };
      container(s).image = 'dev.local/hello:2';
    });
    const result = await apply(ns, changed);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('spec.template.metadata.name');
    expect(result.stderr).toMatch(/its revision name "hello-v1" did not/);
    const renamed = service((s) => {
      s.spec.template.metadata = { name: 'hello-v2' };
      container(s).image = 'dev.local/hello:2';
    });
    await mustSucceed(apply(ns, renamed));
  });

  it('a Revision spec cannot change', async () => {
    const ns = await createNamespace('rev');
    const revision = {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Revision',
      metadata: { name: 'hello-00001' },
      spec: { containers: [{ image: 'dev.local/hello:1' }] },
    };
    await mustSucceed(apply(ns, revision));
    const result = await apply(ns, { ...revision, spec: { containers: [{ image: 'dev.local/hello:2' }] } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/a Revision is immutable/);
  });
});

describe('the webhook follows config-defaults', () => {
  it('a lower container-concurrency-max-limit takes effect without a restart', async () => {
    const ns = await createNamespace('limits');
    const svc = service((s) => {
      spec(s).containerConcurrency = 80;
    });
    const dryRun = () => apply(ns, svc, ['--dry-run=server']);
    expect((await dryRun()).code).toBe(0);
    await mustSucceed(
      kubectl([
        'create',
        'configmap',
        'config-defaults',
        '-n',
        'knative-serving',
        '--from-literal=container-concurrency-max-limit=50',
      ]),
    );
    try {
      await expect
        .poll(async () => (await dryRun()).stderr, { timeout: 20_000, interval: 200 })
        .toMatch(/80 is out of range: must be between 0 and 50/);
    } finally {
      await mustSucceed(kubectl(['delete', 'configmap', 'config-defaults', '-n', 'knative-serving']));
    }
    await expect.poll(async () => (await dryRun()).code, { timeout: 20_000, interval: 200 }).toBe(0);
  });
});
