import { describe, expect, it } from 'vitest';
import { jsonPatch, review, type AdmissionReview } from '../../../controllers/webhook/admission.ts';
import { knativeDefaults } from '../../../controllers/webhook/config.ts';
import { makeWebhookConfigurations } from '../../../controllers/webhook/registration.ts';

const request = (object: Record<string, unknown>, over: Record<string, unknown> = {}): AdmissionReview => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u1',
    kind: { group: 'serving.knative.dev', version: 'v1', kind: 'Service' },
    operation: 'CREATE',
    userInfo: { username: 'alice' },
    object,
    ...over,
  },
});

describe('admission reviews', () => {
  it('answers defaulting with a JSON patch that produces the defaulted object', () => {
    const object = {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'a' },
      spec: { template: { spec: { containers: [{ image: 'x' }] } } },
    };
    const response = review('/defaulting', request(object), knativeDefaults()).response!;
    expect(response).toMatchObject({ uid: 'u1', allowed: true, patchType: 'JSONPatch' });
    const ops = JSON.parse(Buffer.from(response.patch!, 'base64').toString()) as { op: string; path: string }[];
    expect(ops.map((o) => `${o.op} ${o.path}`)).toEqual(['replace /spec', 'add /metadata/annotations']);
  });

  it('denies with every field error in the message and in the causes', () => {
    const object = {
      metadata: { name: 'a', annotations: { 'autoscaling.knative.dev/target': '5' } },
      spec: { template: { spec: { containerConcurrency: 5000, containers: [{ image: 'x' }] } } },
    };
    const response = review('/validation', request(object), knativeDefaults()).response!;
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toBe(
      'validation failed: metadata.annotations[autoscaling.knative.dev/target]: autoscaling annotations are only allowed on spec.template.metadata.annotations; ' +
        'spec.template.spec.containerConcurrency: 5000 is out of range: must be between 0 and 1000 (config-defaults container-concurrency-max-limit)',
    );
    expect(response.status?.details?.causes.map((c) => c.field)).toEqual([
      'metadata.annotations[autoscaling.knative.dev/target]',
      'spec.template.spec.containerConcurrency',
    ]);
  });

  it("words an invalid service account name as Knative does: the value, the field, then Kubernetes' rule", () => {
    const object = {
      metadata: { name: 'a' },
      spec: { template: { spec: { serviceAccountName: 'foo@bar.baz', containers: [{ image: 'x' }] } } },
    };
    const response = review('/validation', request(object), knativeDefaults()).response!;
    // The text Knative's conformance test expects: k8s.io/apimachinery's IsDNS1123Subdomain message.
    expect(response.status?.message).toBe(
      'validation failed: invalid value: foo@bar.baz: spec.template.spec.serviceAccountName\n' +
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end " +
        "with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
    expect(response.status?.details?.causes.map((c) => c.field)).toEqual(['spec.template.spec.serviceAccountName']);
  });

  it('lets other kinds and DELETE through untouched', () => {
    const other = review(
      '/validation',
      request({}, { kind: { group: '', version: 'v1', kind: 'Pod' } }),
      knativeDefaults(),
    ).response;
    expect(other).toEqual({ uid: 'u1', allowed: true });
    expect(review('/defaulting', request({ spec: {} }, { operation: 'DELETE' }), knativeDefaults()).response).toEqual({
      uid: 'u1',
      allowed: true,
    });
  });

  it("defaults a DomainMapping's ref namespace to its own and validates what CEL cannot see", () => {
    const dm = (ref: Record<string, unknown>, name = 'app.example.com') => ({
      apiVersion: 'serving.knative.dev/v1beta1',
      kind: 'DomainMapping',
      metadata: { name, namespace: 'team' },
      spec: { ref },
    });
    const dmKind = { kind: { group: 'serving.knative.dev', version: 'v1beta1', kind: 'DomainMapping' } };
    const ref = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' };
    const defaulted = review('/defaulting', request(dm(ref), dmKind), knativeDefaults()).response!;
    const ops = JSON.parse(Buffer.from(defaulted.patch!, 'base64').toString()) as { path: string; value: any }[];
    expect(ops.find((o) => o.path === '/spec')?.value).toEqual({ ref: { ...ref, namespace: 'team' } });
    expect(ops.find((o) => o.path === '/metadata/annotations')?.value).toEqual({
      'serving.knative.dev/creator': 'alice',
      'serving.knative.dev/lastModifier': 'alice',
    });

    expect(
      review('/validation', request(dm({ ...ref, namespace: 'team' }), dmKind), knativeDefaults()).response?.allowed,
    ).toBe(true);
    expect(
      review('/validation', request(dm({ ...ref, namespace: 'other' }), dmKind), knativeDefaults()).response?.status
        ?.message,
    ).toBe(
      'validation failed: spec.ref.namespace: mismatched namespaces: parent namespace: "team" does not match ref: "other"',
    );
    expect(
      review('/validation', request(dm(ref, 'app.svc.cluster.local'), dmKind), knativeDefaults()).response?.status
        ?.message,
    ).toBe(
      'validation failed: metadata.name: invalid name "app.svc.cluster.local": must not be a subdomain of cluster local domain "cluster.local"',
    );
  });

  it('jsonPatch adds missing sections and replaces changed ones', () => {
    expect(jsonPatch({ spec: { a: 1 } }, { spec: { a: 2 }, metadata: { annotations: { x: 'y' } } })).toEqual([
      { op: 'replace', path: '/spec', value: { a: 2 } },
      { op: 'add', path: '/metadata', value: {} },
      { op: 'add', path: '/metadata/annotations', value: { x: 'y' } },
    ]);
    expect(jsonPatch({ spec: { a: 1 } }, { spec: { a: 1 } })).toEqual([]);
  });
});

describe('config.webhook.serving.knative.dev', () => {
  const configMap = (name: string, data: Record<string, string>, operation = 'CREATE') =>
    request(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'knative-serving' }, data },
      { kind: { group: '', version: 'v1', kind: 'ConfigMap' }, operation },
    );

  it('refuses an edit that breaks a key, naming the key and the rule', () => {
    const response = review(
      '/config-validation',
      configMap('config-features', { 'secure-pod-defaults': 'Sometimes', 'multi-container': 'Enabled' }, 'UPDATE'),
      knativeDefaults(),
    ).response!;
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toBe(
      'validation failed: data.secure-pod-defaults: must be Enabled, Disabled or AllowRootBounded',
    );
    expect(response.status?.details?.causes).toContainEqual({
      field: 'data.secure-pod-defaults',
      message: 'must be Enabled, Disabled or AllowRootBounded',
      reason: 'FieldValueInvalid',
    });
  });

  it("accepts upstream's values and keys it does not know, in every ConfigMap a component reads", () => {
    const allowed = (name: string, data: Record<string, string>) =>
      review('/config-validation', configMap(name, data), knativeDefaults()).response?.allowed;
    expect(allowed('config-features', { 'secure-pod-defaults': 'AllowRootBounded', 'some-new-flag': 'x' })).toBe(true);
    expect(allowed('config-logging', { 'zap-logger-config': '{"level": "debug"}', 'loglevel.webhook': 'warn' })).toBe(
      true,
    );
    expect(allowed('config-logging', { 'loglevel.controller': 'chatty' })).toBe(false);
    expect(allowed('config-autoscaler', { 'stable-window': '61500ms' })).toBe(false);
    expect(allowed('config-domain', { 'Not A Domain': '' })).toBe(false);
    expect(allowed('config-deployment', { 'progress-deadline': '10m' })).toBe(false);
    expect(allowed('some-other-config', { anything: 'goes' })).toBe(true);
  });
});

describe('webhook registration', () => {
  it('registers both webhooks for the four serving kinds and v1beta1 DomainMappings with the CA, by URL or by Service', () => {
    const byUrl = makeWebhookConfigurations({ url: 'https://127.0.0.1:8443/' }, 'CA', 'knative-serving');
    expect(byUrl.mutating.webhooks?.[0]?.clientConfig).toEqual({
      url: 'https://127.0.0.1:8443/defaulting',
      caBundle: Buffer.from('CA').toString('base64'),
    });
    expect(byUrl.validating.webhooks?.[0]?.rules?.[0]?.resources).toEqual([
      'services',
      'configurations',
      'revisions',
      'routes',
    ]);
    expect(byUrl.mutating.webhooks?.[0]?.rules?.[1]).toMatchObject({
      apiVersions: ['v1beta1'],
      resources: ['domainmappings'],
    });
    const bySvc = makeWebhookConfigurations(
      { service: { namespace: 'knative-serving', name: 'webhook', port: 443 } },
      'CA',
      'knative-serving',
    );
    expect(bySvc.validating.webhooks?.[0]?.clientConfig.service).toEqual({
      namespace: 'knative-serving',
      name: 'webhook',
      port: 443,
      path: '/validation',
    });
    expect(bySvc.mutating.webhooks?.[0]?.failurePolicy).toBe('Fail');
  });

  it('registers the ConfigMap webhook for the system namespace and only the ConfigMaps a component reads', () => {
    const { configValidating } = makeWebhookConfigurations({ url: 'https://127.0.0.1:8443' }, 'CA', 'serving-system');
    const [webhook] = configValidating.webhooks ?? [];
    expect(configValidating.metadata?.name).toBe('config.webhook.serving.knative.dev');
    expect(webhook?.clientConfig.url).toBe('https://127.0.0.1:8443/config-validation');
    expect(webhook?.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'serving-system' } });
    expect(webhook?.rules).toEqual([
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['configmaps'],
        scope: 'Namespaced',
      },
    ]);
    expect(webhook?.matchConditions?.[0]?.expression).toMatch(
      /^object\.metadata\.name in \['config-autoscaler', .*'config-features', .*'config-logging', .*\]$/,
    );
  });
});
