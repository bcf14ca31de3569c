import { describe, expect, it } from 'vitest';
import { parseDefaults } from '../../../lib/config/defaults.ts';
import { parseFeatures } from '../../../lib/config/features.ts';
import { knativeDefaults } from '../../../controllers/webhook/config.ts';
import {
  defaultConfiguration,
  defaultRevision,
  defaultRoute,
  defaultService,
  type AdmissionContext,
} from '../../../controllers/webhook/defaulting.ts';
import type { Service } from '../../../lib/apis/serving.ts';

const ctx = (over: Partial<AdmissionContext> = {}): AdmissionContext => ({
  operation: 'CREATE',
  username: 'alice',
  config: knativeDefaults(),
  ...over,
});

const service = (spec: Record<string, unknown> = {}, template: Record<string, unknown> = {}): Service =>
  ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'hello', namespace: 'ns' },
    spec: { template: { spec: { containers: [{ image: 'dev.local/hello:1' }] }, ...template }, ...spec },
  }) as Service;

describe('Service defaults', () => {
  it("fills Knative's defaults into a minimal Service", () => {
    const out = defaultService(service(), undefined, ctx());
    expect(out.spec?.traffic).toEqual([{ percent: 100, latestRevision: true }]);
    expect(out.spec?.template?.spec).toEqual({
      timeoutSeconds: 300,
      containerConcurrency: 0,
      enableServiceLinks: false,
      containers: [
        {
          name: 'user-container',
          image: 'dev.local/hello:1',
          resources: {},
          readinessProbe: { tcpSocket: { port: 0 }, successThreshold: 1 },
        },
      ],
    });
    expect(out.metadata?.annotations).toEqual({
      'serving.knative.dev/creator': 'alice',
      'serving.knative.dev/lastModifier': 'alice',
    });
  });

  it('stores the fields a Go client writes back even when zero, so its get-update round trip keeps the spec', () => {
    const stored = defaultService(
      service(
        {},
        {
          spec: {
            containers: [{ image: 'x', livenessProbe: { httpGet: { path: '/live' } }, startupProbe: { grpc: {} } }],
          },
        },
      ),
      undefined,
      ctx(),
    );
    // What client-go sends for that object: TCPSocketAction.port, HTTPGetAction.port and
    // GRPCAction.port are not omitempty, and Container.resources is a struct, always written.
    // ObjectMeta is a struct too; its creationTimestamp: null is dropped by the API server.
    expect(stored.spec?.template?.metadata).toEqual({});
    const container = stored.spec?.template?.spec?.containers[0];
    expect(container?.resources).toEqual({});
    expect(container?.readinessProbe?.tcpSocket).toEqual({ port: 0 });
    expect(container?.livenessProbe?.httpGet).toEqual({ path: '/live', port: 0 });
    expect(container?.startupProbe?.grpc).toEqual({ port: 0, service: '' });
    const resent = defaultService(structuredClone(stored), stored, ctx({ operation: 'UPDATE' }));
    expect(resent.spec).toEqual(stored.spec);
  });

  it('does not change its input', () => {
    const input = service();
    const copy = structuredClone(input);
    defaultService(input, undefined, ctx());
    expect(input).toEqual(copy);
  });

  it('defaults each traffic target: latestRevision follows revisionName, percent 0', () => {
    const out = defaultService(
      service({ traffic: [{ tag: 'a', revisionName: 'hello-1', percent: 100 }, { tag: 'b' }] }),
      undefined,
      ctx(),
    );
    expect(out.spec?.traffic).toEqual([
      { tag: 'a', revisionName: 'hello-1', percent: 100, latestRevision: false },
      { tag: 'b', latestRevision: true, percent: 0 },
    ]);
  });

  it('names several unnamed containers user-container-0, -1, skipping names in use', () => {
    const out = defaultService(
      service(
        {},
        {
          spec: {
            containers: [
              { image: 'a', ports: [{ containerPort: 8080 }] },
              { image: 'b', name: 'user-container-0' },
              { image: 'c' },
            ],
          },
        },
      ),
      undefined,
      ctx(),
    );
    expect(out.spec?.template?.spec?.containers.map((c) => c.name)).toEqual([
      'user-container-1',
      'user-container-0',
      'user-container-2',
    ]);
    // Only the serving container (the one with a port) gets the default readiness probe.
    expect(out.spec?.template?.spec?.containers.map((c) => c.readinessProbe !== undefined)).toEqual([
      true,
      false,
      false,
    ]);
  });

  it('takes timeout, concurrency, resources and the container name from config-defaults', () => {
    const config = {
      ...knativeDefaults(),
      defaults: parseDefaults({
        'revision-timeout-seconds': '120',
        'container-concurrency': '10',
        'revision-idle-timeout-seconds': '60',
        'container-name-template': '{{.Name}}-app',
        'revision-cpu-request': '100m',
        'revision-memory-limit': '256Mi',
      }),
    };
    const spec = defaultService(service(), undefined, ctx({ config })).spec?.template?.spec;
    expect(spec?.timeoutSeconds).toBe(120);
    expect(spec?.containerConcurrency).toBe(10);
    expect(spec?.idleTimeoutSeconds).toBe(60);
    expect(spec?.containers[0]?.name).toBe('hello-app');
    expect(spec?.containers[0]?.resources).toEqual({ requests: { cpu: '100m' }, limits: { memory: '256Mi' } });
  });

  it('treats timeoutSeconds 0 as unset, as Knative does', () => {
    const out = defaultService(
      service({}, { spec: { timeoutSeconds: 0, containers: [{ image: 'x' }] } }),
      undefined,
      ctx(),
    );
    expect(out.spec?.template?.spec?.timeoutSeconds).toBe(300);
  });

  it('completes readiness probes and marks mounts of read-only volume kinds read-only', () => {
    const out = defaultService(
      service(
        {},
        {
          spec: {
            containers: [
              {
                image: 'x',
                readinessProbe: { httpGet: { path: '/ready' }, periodSeconds: 5 },
                volumeMounts: [
                  { name: 'cfg', mountPath: '/cfg' },
                  { name: 'scratch', mountPath: '/scratch' },
                ],
              },
            ],
            volumes: [
              { name: 'cfg', configMap: { name: 'c' } },
              { name: 'scratch', emptyDir: {} },
            ],
          },
        },
      ),
      undefined,
      ctx(),
    );
    const container = out.spec?.template?.spec?.containers[0];
    expect(container?.readinessProbe).toEqual({
      httpGet: { path: '/ready', port: 0 },
      periodSeconds: 5,
      successThreshold: 1,
      failureThreshold: 3,
      timeoutSeconds: 1,
    });
    expect(container?.volumeMounts).toEqual([
      { name: 'cfg', mountPath: '/cfg', readOnly: true },
      { name: 'scratch', mountPath: '/scratch' },
    ]);
  });

  it('applies secure pod defaults only when the feature is on', () => {
    const config = { ...knativeDefaults(), features: parseFeatures({ 'secure-pod-defaults': 'Enabled' }) };
    const sc = defaultService(service(), undefined, ctx({ config })).spec?.template?.spec?.containers[0]
      ?.securityContext;
    expect(sc).toEqual({
      allowPrivilegeEscalation: false,
      seccompProfile: { type: 'RuntimeDefault' },
      capabilities: { drop: ['ALL'] },
      runAsNonRoot: true,
    });
    expect(
      defaultService(service(), undefined, ctx()).spec?.template?.spec?.containers[0]?.securityContext,
    ).toBeUndefined();
  });

  it('with secure-pod-defaults AllowRootBounded, applies the secure defaults but leaves runAsNonRoot unset', () => {
    const config = { ...knativeDefaults(), features: parseFeatures({ 'secure-pod-defaults': 'AllowRootBounded' }) };
    const sc = defaultService(service(), undefined, ctx({ config })).spec?.template?.spec?.containers[0]
      ?.securityContext;
    expect(sc).toEqual({
      allowPrivilegeEscalation: false,
      seccompProfile: { type: 'RuntimeDefault' },
      capabilities: { drop: ['ALL'] },
    });
  });

  it('on update, sets lastModifier only when the spec changed and keeps the creator', () => {
    const created = defaultService(service(), undefined, ctx());
    const unchanged = defaultService(created, created, ctx({ operation: 'UPDATE', username: 'bob' }));
    expect(unchanged.metadata?.annotations?.['serving.knative.dev/lastModifier']).toBe('alice');
    const edited = structuredClone(created);
    edited.spec!.template!.spec!.containers[0]!.image = 'dev.local/hello:2';
    const updated = defaultService(edited, created, ctx({ operation: 'UPDATE', username: 'bob' }));
    expect(updated.metadata?.annotations).toMatchObject({
      'serving.knative.dev/creator': 'alice',
      'serving.knative.dev/lastModifier': 'bob',
    });
  });

  it('leaves a template with an unchanged bring-your-own name as it is', () => {
    const old = service({}, { metadata: { name: 'hello-v1' } });
    const out = defaultService(structuredClone(old), old, ctx({ operation: 'UPDATE' }));
    expect(out.spec?.template).toEqual(old.spec?.template);
  });
});

describe('Revision, Configuration and Route defaults', () => {
  it('a Revision is defaulted on create and never on update', () => {
    const rev = {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Revision',
      metadata: { name: 'r' },
      spec: { containers: [{ image: 'x' }] },
    } as never;
    expect((defaultRevision(rev, ctx()) as { spec: { timeoutSeconds: number } }).spec.timeoutSeconds).toBe(300);
    expect(defaultRevision(rev, ctx({ operation: 'UPDATE' }))).toEqual(rev);
  });

  it('a Configuration owned by a Service gets no creator annotations of its own', () => {
    const cfg = {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Configuration',
      metadata: { name: 'c', ownerReferences: [{ kind: 'Service', controller: true }] },
      spec: { template: { spec: { containers: [{ image: 'x' }] } } },
    } as never;
    expect(
      (defaultConfiguration(cfg, undefined, ctx()) as { metadata: { annotations?: unknown } }).metadata.annotations,
    ).toBeUndefined();
  });

  it('a Route defaults its targets and records its creator', () => {
    const route = {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Route',
      metadata: { name: 'r' },
      spec: { traffic: [{ configurationName: 'c', percent: 100 }] },
    } as never;
    const out = defaultRoute(route, undefined, ctx()) as {
      spec: { traffic: unknown[] };
      metadata: { annotations: Record<string, string> };
    };
    expect(out.spec.traffic).toEqual([{ configurationName: 'c', percent: 100, latestRevision: true }]);
    expect(out.metadata.annotations['serving.knative.dev/creator']).toBe('alice');
  });
});
