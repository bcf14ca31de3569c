import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { childName } from '../../../lib/apis/kmeta.ts';
import type { Revision } from '../../../lib/apis/serving.ts';
import { makeDeployment } from '../../../controllers/revision/resources/deployment.ts';
import { makePodAutoscaler } from '../../../controllers/revision/resources/podAutoscaler.ts';
import { readinessProbeForQueue } from '../../../controllers/revision/resources/queueContainer.ts';
import { makeTestRevision, revisionConfig } from '../../support/servingFixtures.ts';
import type { RevisionConfig } from '../../../controllers/revision/config.ts';
import { announceToken } from '../../../lib/announce.ts';
import { refused } from '../../support/configIssues.ts';
import { parseDeploymentConfig } from '../../../lib/config/deployment.ts';

const revision = (edit?: (r: any) => void): Revision =>
  makeTestRevision(
    {
      annotations: {
        'autoscaling.knative.dev/min-scale': '2',
        'serving.knative.dev/creator': 'alice',
        'example.com/team': 'a',
      },
      containerConcurrency: 10,
      container: {
        env: [{ name: 'TARGET', value: 'World' }],
        readinessProbe: { httpGet: { path: '/ready' }, periodSeconds: 0, successThreshold: 1 },
        livenessProbe: { tcpSocket: {} },
      },
    },
    edit,
  );

describe('child names', () => {
  it('keeps short names and hashes long ones to 63 characters like Knative', () => {
    expect(childName('hello-00001', '-deployment')).toBe('hello-00001-deployment');
    const long = childName('a'.repeat(60), '-deployment');
    expect(long).toHaveLength(63);
    // 63 - 32 (md5 hex) - 11 (suffix) = 20 characters of the parent survive.
    expect(long).toBe(`${'a'.repeat(20)}${createHash('md5').update('a'.repeat(60)).digest('hex')}-deployment`);
    expect(childName('b'.repeat(60), '-deployment')).not.toBe(long);
  });
});

describe('makeDeployment', () => {
  const deployment = makeDeployment(revision(), revisionConfig());
  const pod = deployment.spec!.template.spec!;
  const [user, queue] = pod.containers;

  it('names, labels and owns the Deployment like Knative', () => {
    expect(deployment.metadata).toEqual({
      name: 'hello-00001-deployment',
      namespace: 'ns',
      labels: {
        'serving.knative.dev/configuration': 'hello',
        'serving.knative.dev/service': 'hello',
        'serving.knative.dev/revision': 'hello-00001',
        'serving.knative.dev/revisionUID': 'rev-uid',
        app: 'hello-00001',
      },
      annotations: { 'example.com/team': 'a' },
      ownerReferences: [
        {
          apiVersion: 'serving.knative.dev/v1',
          kind: 'Revision',
          name: 'hello-00001',
          uid: 'rev-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    expect(deployment.spec?.selector).toEqual({ matchLabels: { 'serving.knative.dev/revisionUID': 'rev-uid' } });
  });

  it("starts at max(initial-scale, min-scale) with Knative's rollout settings", () => {
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.spec?.progressDeadlineSeconds).toBe(600);
    expect(deployment.spec?.revisionHistoryLimit).toBe(0);
    expect(deployment.spec?.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } });
    expect(
      makeDeployment(
        revision((r) => {
          r.metadata.annotations = { 'serving.knative.dev/progress-deadline': '90s' };
        }),
        revisionConfig(),
      ).spec,
    ).toMatchObject({ replicas: 1, progressDeadlineSeconds: 90 });
  });

  it('rewrites the serving container: one user-port, Knative env, preStop drain, probes moved to queue-proxy', () => {
    expect(user?.ports).toEqual([{ name: 'user-port', containerPort: 9000 }]);
    expect(user?.env).toEqual([
      { name: 'TARGET', value: 'World' },
      { name: 'PORT', value: '9000' },
      { name: 'K_REVISION', value: 'hello-00001' },
      { name: 'K_CONFIGURATION', value: 'hello' },
      { name: 'K_SERVICE', value: 'hello' },
    ]);
    expect(user?.lifecycle).toEqual({ preStop: { httpGet: { path: '/wait-for-drain', port: 8022 } } });
    expect(user?.readinessProbe).toBeUndefined();
    expect(user?.livenessProbe).toEqual({ tcpSocket: { port: 9000 } });
    expect(user?.terminationMessagePolicy).toBe('FallbackToLogsOnError');
  });

  it("adds the queue-proxy sidecar with Knative's ports, env and probe", () => {
    expect(queue?.name).toBe('queue-proxy');
    expect(queue?.image).toBe('dev.local/pilotlight:1');
    expect(queue?.ports).toEqual([
      { name: 'queue-port', containerPort: 8012 },
      { name: 'http-autometric', containerPort: 9090 },
      { name: 'http-usermetric', containerPort: 9091 },
    ]);
    const env = Object.fromEntries(
      (queue?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
    );
    expect(env).toMatchObject({
      SERVING_NAMESPACE: 'ns',
      SERVING_SERVICE: 'hello',
      SERVING_CONFIGURATION: 'hello',
      SERVING_REVISION: 'hello-00001',
      QUEUE_SERVING_PORT: '8012',
      CONTAINER_CONCURRENCY: '10',
      REVISION_TIMEOUT_SECONDS: '120',
      USER_PORT: '9000',
      SERVING_POD: 'metadata.name',
      SERVING_POD_IP: 'status.podIP',
      SYSTEM_NAMESPACE: 'knative-serving',
    });
    expect(JSON.parse(env.SERVING_READINESS_PROBE!)).toEqual({
      httpGet: { path: '/ready', host: '127.0.0.1', port: 9000 },
      periodSeconds: 0,
      successThreshold: 1,
    });
    expect(queue?.readinessProbe).toEqual({
      httpGet: { port: 8012, httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }] },
      periodSeconds: 1,
    });
    expect(queue?.resources).toEqual({ requests: { cpu: '25m' } });
  });

  it('strips Knative-only fields from the PodSpec and bounds termination by the request timeout', () => {
    expect(pod).not.toHaveProperty('containerConcurrency');
    expect(pod).not.toHaveProperty('timeoutSeconds');
    expect(pod.terminationGracePeriodSeconds).toBe(120);
    expect(pod.enableServiceLinks).toBe(false);
    expect(
      pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm
        .labelSelector,
    ).toEqual({ matchLabels: { 'serving.knative.dev/revision': 'hello-00001' } });
    expect(
      makeDeployment(revision(), revisionConfig({ 'default-affinity-type': 'none' })).spec?.template.spec?.affinity,
    ).toBeUndefined();
  });

  it('runs each image by the digest it resolved to, and by its tag where none was resolved', () => {
    const digest = `10.245.0.1:5000/app@sha256:${'a'.repeat(64)}`;
    const init = `10.245.0.1:5000/init@sha256:${'b'.repeat(64)}`;
    const pinned = (status: object) =>
      makeDeployment(
        revision((r) => {
          r.spec.initContainers = [{ name: 'setup', image: '10.245.0.1:5000/init:1' }];
          r.status = status;
        }),
        revisionConfig(),
      ).spec!.template.spec!;
    const resolved = pinned({
      containerStatuses: [{ name: 'user-container', imageDigest: digest }],
      initContainerStatuses: [{ name: 'setup', imageDigest: init }],
    });
    expect(resolved.containers[0]?.image).toBe(digest);
    expect(resolved.initContainers?.[0]?.image).toBe(init);
    const tagged = revision().spec?.containers[0]?.image;
    expect(pinned({ containerStatuses: [{ name: 'user-container' }] }).containers[0]?.image).toBe(tagged);
    // A status of another container (the spec changed shape) is not taken for this one.
    expect(pinned({ containerStatuses: [{ name: 'other', imageDigest: digest }] }).containers[0]?.image).toBe(tagged);
    expect(pinned({}).initContainers?.[0]?.image).toBe('10.245.0.1:5000/init:1');
  });

  it("gives queue-proxy config-logging's level and loglevel.queueproxy, as upstream", () => {
    const loggingEnv = (logging: Record<string, string>) =>
      makeDeployment(revision(), revisionConfig({}, {}, logging)).spec!.template.spec!.containers[1]?.env?.filter((e) =>
        e.name.startsWith('SERVING_LOGGING_'),
      );
    expect(loggingEnv({})).toEqual([
      { name: 'SERVING_LOGGING_CONFIG', value: '{"level":"info"}' },
      { name: 'SERVING_LOGGING_LEVEL', value: '' },
    ]);
    expect(
      loggingEnv({
        'zap-logger-config': '{"level": "warn", "encoding": "json"}',
        'loglevel.queueproxy': 'DEBUG',
        'loglevel.controller': 'error',
      }),
    ).toEqual([
      { name: 'SERVING_LOGGING_CONFIG', value: '{"level":"warn"}' },
      { name: 'SERVING_LOGGING_LEVEL', value: 'debug' },
    ]);
  });

  it("gives queue-proxy the activators' announce host and the revision's own token, only when announcing", () => {
    const key = Buffer.alloc(32, 1);
    const announceEnv = (config: RevisionConfig) =>
      makeDeployment(revision(), config).spec!.template.spec!.containers[1]?.env?.filter((e) =>
        e.name.startsWith('ACTIVATOR_ANNOUNCE_'),
      );
    expect(
      announceEnv({ ...revisionConfig(), announce: { host: 'activator-announce.knative-serving.svc.', key } }),
    ).toEqual([
      { name: 'ACTIVATOR_ANNOUNCE_HOST', value: 'activator-announce.knative-serving.svc.' },
      { name: 'ACTIVATOR_ANNOUNCE_TOKEN', value: announceToken(key, 'ns', 'hello-00001') },
    ]);
    expect(announceEnv(revisionConfig())).toEqual([]);
  });

  it("starts node with the flags of config-deployment's queue-sidecar-jit, optimizing by default", () => {
    expect(queue?.command).toEqual([
      '/usr/local/bin/node',
      '--max-semi-space-size=1',
      '--single-threaded',
      '--no-maglev',
      '/app/cli/main.js',
    ]);
    expect(queue?.args).toEqual(['queue-proxy']);
    const baseline = makeDeployment(revision(), revisionConfig({ 'queue-sidecar-jit': 'baseline' })).spec!.template
      .spec!.containers[1];
    expect(baseline?.command).toEqual([
      '/usr/local/bin/node',
      '--max-semi-space-size=1',
      '--single-threaded',
      '--no-maglev',
      '--no-turbofan',
      '/app/cli/main.js',
    ]);
    expect(refused(parseDeploymentConfig, { 'queue-sidecar-image': 'q:1', 'queue-sidecar-jit': 'fast' })).toBe(
      'queue-sidecar-jit: must be optimizing or baseline',
    );
    expect(revisionConfig({ 'queue-sidecar-jit': 'fast' }).deployment.queueSidecarJit).toBe('optimizing');
  });

  it('a port named h2c moves queue-proxy to 8013', () => {
    const h2c = makeDeployment(
      revision((r) => {
        r.spec.containers[0].ports = [{ name: 'h2c', containerPort: 8080 }];
      }),
      revisionConfig(),
    );
    expect(h2c.spec?.template.spec?.containers[1]?.ports?.[0]).toEqual({ name: 'queue-port', containerPort: 8013 });
  });

  it("a port given only a name, containerPort 0 as Go writes it, serves on 8080 with that name's protocol", () => {
    const named = (name: string) =>
      revision((r) => {
        r.spec.containers[0].ports = [{ name, containerPort: 0 }];
      });
    const h2c = makeDeployment(named('h2c'), revisionConfig()).spec!.template.spec!;
    const [app, sidecar] = h2c.containers;
    expect(app?.ports).toEqual([{ name: 'user-port', containerPort: 8080 }]);
    expect(app?.env).toContainEqual({ name: 'PORT', value: '8080' });
    expect(sidecar?.ports?.[0]).toEqual({ name: 'queue-port', containerPort: 8013 });
    expect(sidecar?.env).toContainEqual({ name: 'USER_PORT', value: '8080' });
    expect(sidecar?.env).toContainEqual({ name: 'QUEUE_SERVING_PORT', value: '8013' });
    expect(makePodAutoscaler(named('h2c')).spec?.protocolType).toBe('h2c');
    expect(makePodAutoscaler(named('http1')).spec?.protocolType).toBe('http1');
    const http1 = makeDeployment(named('http1'), revisionConfig()).spec!.template.spec!;
    expect(http1.containers[0]?.ports).toEqual([{ name: 'user-port', containerPort: 8080 }]);
    expect(http1.containers[1]?.ports?.[0]).toEqual({ name: 'queue-port', containerPort: 8012 });
  });

  it("queue-proxy checks the user port when the app's probe is exec or has no port", () => {
    expect(readinessProbeForQueue({ exec: { command: ['true'] }, periodSeconds: 3 } as never, 8080)).toEqual({
      tcpSocket: { host: '127.0.0.1', port: 8080 },
      periodSeconds: 3,
      successThreshold: 1,
    });
    expect(readinessProbeForQueue(undefined, 8080)).toEqual({
      tcpSocket: { host: '127.0.0.1', port: 8080 },
      successThreshold: 1,
    });
  });
});

describe('makePodAutoscaler', () => {
  it('targets the Deployment and carries the autoscaling annotations', () => {
    expect(makePodAutoscaler(revision())).toEqual({
      apiVersion: 'autoscaling.internal.knative.dev/v1alpha1',
      kind: 'PodAutoscaler',
      metadata: expect.objectContaining({
        name: 'hello-00001',
        namespace: 'ns',
        annotations: { 'autoscaling.knative.dev/min-scale': '2', 'example.com/team': 'a' },
      }),
      spec: {
        containerConcurrency: 10,
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello-00001-deployment' },
        reachability: 'Reachable',
        protocolType: 'http1',
      },
    });
  });

  it('derives reachability from the routing state', () => {
    const withState = (state?: string) =>
      revision((r) => {
        if (state) r.metadata.labels['serving.knative.dev/routingState'] = state;
        else delete r.metadata.labels['serving.knative.dev/routingState'];
      });
    expect(makePodAutoscaler(withState('reserve')).spec.reachability).toBe('Unreachable');
    expect(makePodAutoscaler(withState()).spec.reachability).toBe('');
    expect(makePodAutoscaler(withState(), { failing: true }).spec.reachability).toBe('Unreachable');
  });
});
