import { describe, expect, it } from 'vitest';
import { parseDefaults } from '../../../lib/config/defaults.ts';
import { parseFeatures } from '../../../lib/config/features.ts';
import { knativeDefaults } from '../../../controllers/webhook/config.ts';
import { validateRevisionSpec, validateRoute, validateService } from '../../../controllers/webhook/validation.ts';
import type { RevisionSpec, Service } from '../../../lib/apis/serving.ts';

const config = knativeDefaults();
const spec = (over: Partial<RevisionSpec> = {}): RevisionSpec =>
  ({ containers: [{ image: 'x' }], ...over }) as RevisionSpec;
const paths = (errors: { path: string }[]) => errors.map((e) => e.path);

describe('revision spec rules that depend on configuration', () => {
  it('accepts a plain spec', () => {
    expect(validateRevisionSpec(spec({ containerConcurrency: 1000, timeoutSeconds: 600 }), 'spec', config)).toEqual([]);
  });

  it('bounds containerConcurrency by container-concurrency-max-limit', () => {
    expect(validateRevisionSpec(spec({ containerConcurrency: 1001 }), 'spec', config)).toEqual([
      {
        path: 'spec.containerConcurrency',
        message: '1001 is out of range: must be between 0 and 1000 (config-defaults container-concurrency-max-limit)',
      },
    ]);
    const strict = {
      ...config,
      defaults: parseDefaults({ 'allow-container-concurrency-zero': 'false', 'container-concurrency': '10' }),
    };
    expect(paths(validateRevisionSpec(spec({ containerConcurrency: 0 }), 'spec', strict))).toEqual([
      'spec.containerConcurrency',
    ]);
  });

  it('bounds timeouts by max-revision-timeout-seconds and by timeoutSeconds', () => {
    expect(paths(validateRevisionSpec(spec({ timeoutSeconds: 601 }), 'spec', config))).toEqual(['spec.timeoutSeconds']);
    expect(
      paths(
        validateRevisionSpec(
          spec({ timeoutSeconds: 10, responseStartTimeoutSeconds: 11, idleTimeoutSeconds: 10 }),
          'spec',
          config,
        ),
      ),
    ).toEqual(['spec.responseStartTimeoutSeconds']);
    const longer = { ...config, defaults: parseDefaults({ 'max-revision-timeout-seconds': '3600' }) };
    expect(validateRevisionSpec(spec({ timeoutSeconds: 3600 }), 'spec', longer)).toEqual([]);
  });

  it('gates PodSpec fields, volume kinds, fieldRef and added capabilities on config-features', () => {
    const gatedSpec = spec({
      nodeSelector: { a: 'b' },
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'c' } }],
      containers: [
        {
          image: 'x',
          volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: false }],
          env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          securityContext: { capabilities: { add: ['NET_ADMIN'] } },
        },
      ],
    } as never);
    expect(paths(validateRevisionSpec(gatedSpec, 'spec', config))).toEqual([
      'spec.nodeSelector',
      'spec.volumes[0].persistentVolumeClaim',
      'spec.containers[0].volumeMounts[0].readOnly',
      'spec.containers[0].env[0].valueFrom.fieldRef',
      'spec.containers[0].securityContext.capabilities.add',
    ]);
    const open = {
      ...config,
      features: parseFeatures({
        'kubernetes.podspec-nodeselector': 'enabled',
        'kubernetes.podspec-persistent-volume-claim': 'enabled',
        'kubernetes.podspec-persistent-volume-write': 'enabled',
        'kubernetes.podspec-fieldref': 'enabled',
        'kubernetes.containerspec-addcapabilities': 'enabled',
      }),
    };
    expect(validateRevisionSpec(gatedSpec, 'spec', open)).toEqual([]);
  });

  it('checks names: unique containers, known volumes, mounted volumes, service account', () => {
    const errors = validateRevisionSpec(
      spec({
        serviceAccountName: 'Not_Valid',
        containers: [
          {
            image: 'a',
            name: 'app',
            ports: [{ containerPort: 8080 }],
            volumeMounts: [{ name: 'missing', mountPath: '/m' }],
          },
          { image: 'b', name: 'app' },
        ],
        volumes: [{ name: 'unused', secret: { secretName: 's' } }],
      } as never),
      'spec',
      config,
    );
    expect(paths(errors)).toEqual([
      'spec.serviceAccountName',
      'spec.containers[1].name',
      'spec.containers[0].volumeMounts[0].name',
      'spec.volumes[0].name',
    ]);
    expect(errors[1]?.message).toBe('"app" is already the name of spec.containers[0]');
  });

  it('wants one source per volume and unique volume names', () => {
    const errors = validateRevisionSpec(
      spec({
        containers: [
          {
            image: 'a',
            volumeMounts: [
              { name: 'a', mountPath: '/a', readOnly: true },
              { name: 'b', mountPath: '/b', readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: 'a', secret: { secretName: 'a' }, configMap: { name: 'a' } },
          { name: 'b' },
          { name: 'b', secret: { secretName: 'b' } },
        ],
      } as never),
      'spec',
      config,
    );
    expect(errors).toEqual([
      {
        path: 'spec.volumes[0]',
        message: 'exactly one of secret, configMap, projected, emptyDir must be set, found secret and configMap',
      },
      {
        path: 'spec.volumes[1]',
        message: 'exactly one of secret, configMap, projected, emptyDir must be set, found none',
      },
      { path: 'spec.volumes[2].name', message: '"b" is already the name of another volume' },
    ]);
  });

  it("refuses a mountPath used twice in one container, compared as Go's path.Clean writes it", () => {
    const errors = validateRevisionSpec(
      spec({
        containers: [
          {
            image: 'a',
            volumeMounts: [
              { name: 'a', mountPath: '/data', readOnly: true },
              { name: 'b', mountPath: '/x/../data/', readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: 'a', secret: { secretName: 'a' } },
          { name: 'b', secret: { secretName: 'b' } },
        ],
      } as never),
      'spec',
      config,
    );
    expect(errors).toEqual([
      {
        path: 'spec.containers[0].volumeMounts[1].mountPath',
        message: '"/x/../data/" is mounted twice: each mountPath must be unique',
      },
    ]);
  });

  it('refuses a reserved mountPath however it is written', () => {
    const errors = validateRevisionSpec(
      spec({
        containers: [{ image: 'a', volumeMounts: [{ name: 'a', mountPath: '/dev/', readOnly: true }] }],
        volumes: [{ name: 'a', secret: { secretName: 'a' } }],
      } as never),
      'spec',
      config,
    );
    expect(errors).toEqual([
      {
        path: 'spec.containers[0].volumeMounts[0].mountPath',
        message: '"/dev/" is /dev: mountPath may not be one of /, /dev, /dev/log',
      },
    ]);
  });

  it('allows probes on a container without a port only with multi-container-probing, and then with a port', () => {
    const sidecar = (probe: Record<string, unknown>) =>
      spec({
        containers: [
          { image: 'a', ports: [{ containerPort: 8080 }] },
          { image: 'b', name: 'b', livenessProbe: probe },
        ],
      } as never);
    expect(validateRevisionSpec(sidecar({ tcpSocket: { port: 9000 } }), 'spec', config)).toEqual([
      {
        path: 'spec.containers[1].livenessProbe',
        message:
          'must not be set: the feature is off (set multi-container-probing: enabled in ConfigMap config-features)',
      },
    ]);
    const probing = { ...config, features: parseFeatures({ 'multi-container-probing': 'enabled' }) };
    expect(validateRevisionSpec(sidecar({ tcpSocket: { port: 9000 } }), 'spec', probing)).toEqual([]);
    expect(validateRevisionSpec(sidecar({ httpGet: { path: '/', port: 0 } }), 'spec', probing)).toEqual([
      {
        path: 'spec.containers[1].livenessProbe.httpGet.port',
        message: 'must be set: a container without a port has no serving port to probe by default',
      },
    ]);
  });

  it("checks the serving container's probes as Knative does", () => {
    const probes = (container: Record<string, unknown>) =>
      validateRevisionSpec(
        spec({
          containers: [{ image: 'a', ports: [{ name: 'h2c', containerPort: 9000 }], ...container }],
        } as never),
        'spec',
        config,
      );
    // A number always passes (the probe runs against the serving port); a name must be the port's.
    expect(
      probes({
        readinessProbe: { httpGet: { port: 8080 }, successThreshold: 1 },
        livenessProbe: { tcpSocket: { port: 'h2c' } },
      }),
    ).toEqual([]);
    expect(probes({ readinessProbe: { tcpSocket: { port: 'http' }, successThreshold: 1 } })).toEqual([
      {
        path: 'spec.containers[0].readinessProbe.tcpSocket.port',
        message: '"http" must be the name of the container port, "h2c"',
      },
    ]);
    expect(probes({ livenessProbe: { httpGet: {}, tcpSocket: {} } })).toEqual([
      {
        path: 'spec.containers[0].livenessProbe',
        message: 'exactly one of httpGet, tcpSocket, exec, grpc must be set, found httpGet and tcpSocket',
      },
    ]);
    expect(probes({ readinessProbe: { successThreshold: 1 } })).toEqual([
      {
        path: 'spec.containers[0].readinessProbe',
        message: 'exactly one of httpGet, tcpSocket, exec, grpc must be set, found none',
      },
    ]);
    expect(
      probes({
        readinessProbe: {
          tcpSocket: {},
          successThreshold: 0,
          initialDelaySeconds: -1,
          timeoutSeconds: 2,
          failureThreshold: 3,
        },
      }),
    ).toEqual([
      {
        path: 'spec.containers[0].readinessProbe.initialDelaySeconds',
        message: '-1 is out of range: must be at least 0',
      },
      { path: 'spec.containers[0].readinessProbe.successThreshold', message: '0 is out of range: must be at least 1' },
      {
        path: 'spec.containers[0].readinessProbe.failureThreshold',
        message: 'must not be set when periodSeconds is 0 (aggressive probing, with its own timeout and retries)',
      },
      {
        path: 'spec.containers[0].readinessProbe.timeoutSeconds',
        message: 'must not be set when periodSeconds is 0 (aggressive probing, with its own timeout and retries)',
      },
    ]);
    expect(
      probes({
        readinessProbe: {
          tcpSocket: {},
          periodSeconds: 5,
          timeoutSeconds: 0,
          failureThreshold: 1,
          successThreshold: 1,
        },
      }),
    ).toEqual([
      { path: 'spec.containers[0].readinessProbe.timeoutSeconds', message: '0 is out of range: must be at least 1' },
    ]);
  });
});

const svc = (edit: (s: Service) => void = () => {}): Service => {
  const s = {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'hello' },
    spec: { template: { metadata: {}, spec: { containers: [{ image: 'x' }] } } },
  } as Service;
  edit(s);
  return s;
};

describe('Service and Route rules', () => {
  it('validates autoscaling annotations on the template with their key in the path', () => {
    const errors = validateService(
      svc((s) => {
        s.spec!.template!.metadata!.annotations = {
          'autoscaling.knative.dev/min-scale': '3',
          'autoscaling.knative.dev/max-scale': '2',
          'autoscaling.knative.dev/window': '1h1s',
        };
      }),
      undefined,
      config,
    );
    expect(errors).toEqual([
      {
        path: 'spec.template.metadata.annotations[autoscaling.knative.dev/window]',
        message: '1h1s is out of range: must be between 6s and 3600s',
      },
      {
        path: 'spec.template.metadata.annotations[autoscaling.knative.dev/max-scale]',
        message: 'max-scale=2 is less than min-scale=3',
      },
    ]);
  });

  it('rejects autoscaling annotations and bad rollout durations on the Service itself', () => {
    const errors = validateService(
      svc((s) => {
        s.metadata!.annotations = {
          'autoscaling.knative.dev/target': '10',
          'serving.knative.dev/rollout-duration': '1.5s',
        };
      }),
      undefined,
      config,
    );
    expect(errors.map((e) => e.message)).toEqual([
      'autoscaling annotations are only allowed on spec.template.metadata.annotations',
      '1.5s must be a whole number of seconds',
    ]);
  });

  it('rejects a changed template that keeps its revision name, and a revision name with generateName', () => {
    const old = svc((s) => {
      s.spec!.template!.metadata!.name = 'hello-v1';
    });
    const changed = svc((s) => {
      s.spec!.template!.metadata!.name = 'hello-v1';
      s.spec!.template!.spec!.containers[0]!.image = 'y';
    });
    expect(paths(validateService(changed, old, config))).toEqual(['spec.template.metadata.name']);
    expect(validateService(structuredClone(old), old, config)).toEqual([]);
    const generated = svc((s) => {
      s.metadata = { generateName: 'hello-', name: 'hello-abcde' };
      s.spec!.template!.metadata!.name = 'hello-abcde-v1';
    });
    expect(validateService(generated, undefined, config)[0]?.message).toMatch(/generateName/);
  });

  it('rejects a bad canary annotation at its path, with its rule', () => {
    const canary = (extra: Record<string, string>) =>
      validateService(
        svc((s) => {
          s.metadata!.annotations = { 'canary.pilotlight.dev/steps': '5,25,50', ...extra };
        }),
        undefined,
        config,
      );
    expect(canary({ 'canary.pilotlight.dev/max-p99-increase': '200ms' })).toEqual([]);
    expect(canary({ 'canary.pilotlight.dev/max-error-rate': '120%' })).toEqual([
      {
        path: 'metadata.annotations[canary.pilotlight.dev/max-error-rate]',
        message: '"120%" must be a share of requests, such as 1% or 0.01, from 0 to 100%',
      },
    ]);
    expect(
      paths(validateRoute({ metadata: { annotations: { 'canary.pilotlight.dev/steps': '50,5' } } } as never)),
    ).toEqual(['metadata.annotations[canary.pilotlight.dev/steps]']);
  });

  it('a Route may carry a rollout duration but no autoscaling annotation', () => {
    const route = { metadata: { annotations: { 'serving.knative.dev/rollout-duration': '120s' } } };
    expect(validateRoute(route as never)).toEqual([]);
    expect(
      paths(validateRoute({ metadata: { annotations: { 'autoscaling.knative.dev/class': 'x' } } } as never)),
    ).toEqual(['metadata.annotations[autoscaling.knative.dev/class]']);
  });
});
