import type { V1Deployment } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { livingConditionSet } from '../../../lib/apis/conditions.ts';
import type { Revision } from '../../../lib/apis/serving.ts';
import type { RevisionStatus } from '../../../lib/apis/status.ts';
import { realClock } from '../../../lib/clock.ts';
import {
  planReservedInstance,
  parseReservedInstanceConfig,
  type ReservedInstanceSizing,
} from '../../../lib/config/reservedInstance.ts';
import { makeDeployment } from '../../../controllers/revision/resources/deployment.ts';
import { reservedName } from '../../../controllers/revision/resources/names.ts';
import {
  isRouted,
  makeReservedDeployment,
  RESERVED_QUEUE_RESOURCES,
} from '../../../controllers/revision/resources/reservedDeployment.ts';
import { makeReservedService } from '../../../controllers/revision/resources/reservedService.ts';
import { instanceModeRecorder } from '../../../controllers/revision/reservedInstance.ts';
import {
  clearReservedStatus,
  instanceMode,
  propagateReservedStatus,
  RESERVED_INSTANCE_READY,
  setInstanceMode,
} from '../../../controllers/revision/status.ts';
import { makePrivateService } from '../../../autoscaler/serverlessservice/resources.ts';
import { HTTP1_QUEUE_SERVICE_PORTS, makeTestRevision, revisionConfig } from '../../support/servingFixtures.ts';

const config = {
  ...revisionConfig(),
  announce: { host: 'activator-announce.knative-serving.svc.', key: Buffer.alloc(32) },
};

const revision = (edit?: (r: any) => void): Revision =>
  makeTestRevision(
    {
      annotations: { 'pilotlight.dev/reserved-instance': 'enabled', 'example.com/team': 'a' },
      containerConcurrency: 50,
      container: {
        resources: { requests: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '1Gi' }, limits: { memory: '2Gi' } },
      },
    },
    edit,
  );

const sizingOf = (rev: Revision, clusterData: Record<string, string> = {}): ReservedInstanceSizing => {
  const plan = planReservedInstance({
    annotations: rev.metadata?.annotations,
    config: parseReservedInstanceConfig(clusterData),
    containerConcurrency: rev.spec?.containerConcurrency,
    minScale: 0,
  });
  if (!plan.keep) throw new Error(`no reserved instance: ${plan.reason}`);
  return plan.sizing;
};

const envOf = (deployment: V1Deployment, container: string) =>
  Object.fromEntries(
    (deployment.spec!.template.spec!.containers.find((c) => c.name === container)!.env ?? []).map((e) => [
      e.name,
      e.value,
    ]),
  );

describe('makeReservedDeployment', () => {
  const rev = revision();
  const standard = makeDeployment(rev, config);
  const reserved = makeReservedDeployment(rev, config, sizingOf(rev));
  const pod = reserved.spec!.template.spec!;

  it('is <rev>-reserved, owned by the revision, with one replica and a selector of its own', () => {
    expect(reservedName('hello-00001')).toBe('hello-00001-reserved');
    expect(reserved.metadata).toEqual({
      name: 'hello-00001-reserved',
      namespace: 'ns',
      labels: {
        'serving.knative.dev/configuration': 'hello',
        'serving.knative.dev/service': 'hello',
        app: 'hello-00001',
        'pilotlight.dev/reserved-revision': 'hello-00001',
        'pilotlight.dev/reserved-revision-uid': 'rev-uid',
        'serving.knative.dev/revision': 'hello-00001',
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
    expect(reserved.spec?.replicas).toBe(1);
    expect(reserved.spec?.selector).toEqual({ matchLabels: { 'pilotlight.dev/reserved-revision-uid': 'rev-uid' } });
  });

  it('labels its pods as reserved, never with the labels that select standard pods', () => {
    expect(reserved.spec?.template.metadata?.labels).toEqual({
      'serving.knative.dev/configuration': 'hello',
      'serving.knative.dev/service': 'hello',
      app: 'hello-00001',
      'pilotlight.dev/reserved-revision': 'hello-00001',
      'pilotlight.dev/reserved-revision-uid': 'rev-uid',
    });
    // The private Service selects the standard Deployment's selector; it must not match a reserved pod.
    const privateSelector = makePrivateService(
      {
        metadata: { name: 'hello-00001', uid: 's', namespace: 'ns' },
        apiVersion: 'v',
        kind: 'ServerlessService',
        spec: { objectRef: {}, protocolType: 'http1' },
      },
      standard.spec!.selector.matchLabels!,
    ).spec!.selector!;
    const podLabels = reserved.spec!.template.metadata!.labels!;
    expect(Object.entries(privateSelector).every(([k, v]) => podLabels[k] === v)).toBe(false);
    expect(
      Object.entries(reserved.spec!.selector.matchLabels!).every(
        ([k, v]) => standard.spec!.template.metadata!.labels![k] === v,
      ),
    ).toBe(false);
  });

  it('gives the serving container the reserved CPU and memory, keeping its other resources', () => {
    expect(pod.containers[0]?.resources).toEqual({
      requests: { cpu: '25m', memory: '64Mi', 'ephemeral-storage': '1Gi' },
      limits: { cpu: '1000m', memory: '256Mi' },
    });
  });

  it('runs queue-proxy with small requests and the reserved containerConcurrency', () => {
    expect(pod.containers[1]?.resources).toEqual({ requests: { cpu: '5m', memory: '32Mi' } });
    expect(RESERVED_QUEUE_RESOURCES.requests).toEqual({ cpu: '5m', memory: '32Mi' });
    expect(envOf(standard, 'queue-proxy').CONTAINER_CONCURRENCY).toBe('50');
    expect(envOf(reserved, 'queue-proxy').CONTAINER_CONCURRENCY).toBe('10');
  });

  it('does not announce its pod, which the activators would take for a standard one', () => {
    expect(envOf(standard, 'queue-proxy').ACTIVATOR_ANNOUNCE_TOKEN).toMatch(/^[0-9a-f]{64}$/);
    expect(envOf(reserved, 'queue-proxy')).not.toHaveProperty('ACTIVATOR_ANNOUNCE_TOKEN');
    expect(envOf(reserved, 'queue-proxy')).not.toHaveProperty('ACTIVATOR_ANNOUNCE_HOST');
  });

  it('is otherwise the standard pod template', () => {
    const strip = (d: V1Deployment) => {
      const copy = structuredClone(d.spec!.template.spec!);
      for (const c of copy.containers) {
        delete c.resources;
        c.env = c.env?.filter((e) => e.name !== 'CONTAINER_CONCURRENCY' && !e.name.startsWith('ACTIVATOR_ANNOUNCE_'));
      }
      return copy;
    };
    expect(strip(reserved)).toEqual(strip(standard));
    expect(reserved.spec?.template.metadata?.annotations).toEqual(standard.spec?.template.metadata?.annotations);
    expect({ ...reserved.spec, replicas: 0, selector: 0, template: 0 }).toEqual({
      ...standard.spec,
      replicas: 0,
      selector: 0,
      template: 0,
    });
  });

  it('schedules by the reserved node selector and priority class', () => {
    const placed = revision((r) => {
      r.spec.nodeSelector = { disk: 'ssd' };
      r.metadata.annotations['pilotlight.dev/reserved-instance-node-selector'] = 'pool=burstable';
    });
    const spec = makeReservedDeployment(placed, config, sizingOf(placed, { 'priority-class-name': 'reserved-low' }))
      .spec!.template.spec!;
    expect(spec.nodeSelector).toEqual({ disk: 'ssd', pool: 'burstable' });
    expect(spec.priorityClassName).toBe('reserved-low');
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.priorityClassName).toBeUndefined();
  });

  it('sizes only the serving container of a multi-container revision', () => {
    const multi = revision((r) => {
      r.spec.containers = [
        { name: 'sidecar', image: 'dev.local/side:1', resources: { requests: { cpu: '10m' } } },
        { name: 'app', image: 'dev.local/app:1', ports: [{ containerPort: 8080 }] },
      ];
    });
    const containers = makeReservedDeployment(multi, config, sizingOf(multi)).spec!.template.spec!.containers;
    expect(containers.map((c) => [c.name, c.resources])).toEqual([
      ['sidecar', { requests: { cpu: '10m' } }],
      ['app', { requests: { cpu: '25m', memory: '64Mi' }, limits: { cpu: '1000m', memory: '256Mi' } }],
      ['queue-proxy', { requests: { cpu: '5m', memory: '32Mi' } }],
    ]);
  });

  it('keeps one replica while the revision is routed and none once it is not', () => {
    const withState = (state: string | undefined) =>
      revision((r) => {
        if (state === undefined) delete r.metadata.labels['serving.knative.dev/routingState'];
        else r.metadata.labels['serving.knative.dev/routingState'] = state;
      });
    expect(
      ['active', undefined, 'reserve', 'pending'].map((s) => [
        s,
        isRouted(withState(s)),
        makeReservedDeployment(withState(s), config, sizingOf(rev)).spec?.replicas,
      ]),
    ).toEqual([
      ['active', true, 1],
      [undefined, true, 1],
      ['reserve', false, 0],
      ['pending', false, 0],
    ]);
  });
});

describe('makeReservedService', () => {
  it("selects the reserved pod on the private Service's ports and labels it for the activator", () => {
    const rev = revision();
    expect(makeReservedService(rev, 7)).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'hello-00001-reserved',
        namespace: 'ns',
        labels: {
          'networking.internal.knative.dev/serviceType': 'Reserved',
          'serving.knative.dev/revision': 'hello-00001',
          'pilotlight.dev/container-concurrency': '7',
        },
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
      },
      spec: {
        ports: HTTP1_QUEUE_SERVICE_PORTS,
        selector: { 'pilotlight.dev/reserved-revision-uid': 'rev-uid' },
      },
    });
  });

  it("serves HTTP/2 on queue-proxy's h2c port", () => {
    const h2c = revision((r) => {
      r.spec.containers[0].ports = [{ name: 'h2c', containerPort: 8080 }];
    });
    expect(makeReservedService(h2c, 1).spec?.ports?.[0]).toEqual({
      name: 'http2',
      protocol: 'TCP',
      appProtocol: 'kubernetes.io/h2c',
      port: 80,
      targetPort: 8013,
    });
  });
});

describe('reserved-instance status', () => {
  const conditions = livingConditionSet(['ResourcesAvailable', 'ContainerHealthy']);
  const deployment = (status: V1Deployment['status']): V1Deployment => ({
    spec: { replicas: 1, selector: {}, template: {} },
    status,
  });

  it('is True once the reserved pod is available, with severity Info so Ready ignores it', () => {
    const status: RevisionStatus = {};
    const manager = conditions.manage(status, realClock);
    manager.initialize();
    propagateReservedStatus(manager, deployment({ availableReplicas: 0 }), true);
    expect(manager.get(RESERVED_INSTANCE_READY)).toMatchObject({
      status: 'Unknown',
      severity: 'Info',
      reason: 'Deploying',
    });
    propagateReservedStatus(
      manager,
      deployment({
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' }],
      }),
      true,
    );
    expect(manager.get(RESERVED_INSTANCE_READY)).toMatchObject({
      status: 'False',
      severity: 'Info',
      reason: 'ProgressDeadlineExceeded',
      message: 'too slow',
    });
    expect(manager.get('Ready')?.status).toBe('Unknown');
    propagateReservedStatus(manager, deployment({ availableReplicas: 1 }), true);
    expect(manager.get(RESERVED_INSTANCE_READY)).toMatchObject({ status: 'True', severity: 'Info' });
    propagateReservedStatus(manager, deployment({ availableReplicas: 0 }), false);
    expect(manager.get(RESERVED_INSTANCE_READY)).toMatchObject({ status: 'False', reason: 'NoTraffic' });
    clearReservedStatus(status);
    expect(status.conditions?.map((c) => c.type)).toEqual(['ContainerHealthy', 'Ready', 'ResourcesAvailable']);
  });

  it("names the mode from the autoscaler's counts", () => {
    expect(instanceMode({})).toBe('reserved-only');
    expect(instanceMode({ status: { desiredScale: 0, actualScale: 0 } })).toBe('reserved-only');
    expect(instanceMode({ status: { desiredScale: -1, actualScale: 0 } })).toBe('reserved-only');
    expect(instanceMode({ status: { desiredScale: 2, actualScale: 0 } })).toBe('scaling-from-reserved');
    expect(instanceMode({ status: { desiredScale: 2, actualScale: 1 } })).toBe('standard');
    expect(instanceMode({ status: { desiredScale: 0, actualScale: 1 } })).toBe('standard');
    const status: RevisionStatus & { annotations?: Record<string, string> } = { annotations: { other: 'x' } };
    setInstanceMode(status, 'scaling-from-reserved');
    expect(status.annotations).toEqual({ other: 'x', 'pilotlight.dev/instance-mode': 'scaling-from-reserved' });
  });

  it('exports the mode as a gauge, 1 for the current mode and 0 for the others', async () => {
    const registry = new Registry();
    const record = instanceModeRecorder(registry);
    record('ns', 'hello-00001', 'reserved-only');
    record('ns', 'hello-00001', 'scaling-from-reserved');
    // A second recorder on the same registry (another controller instance) shares the gauge.
    instanceModeRecorder(registry)('ns', 'other-00001', 'standard');
    const values = (await registry.getSingleMetric('pilotlight_revision_instance_mode')!.get()).values;
    const of = (revision: string) =>
      values
        .filter((v) => v.labels.namespace === 'ns' && v.labels.revision === revision)
        .map((v) => [v.labels.mode, v.value])
        .sort();
    expect(of('hello-00001')).toEqual([
      ['reserved-only', 0],
      ['scaling-from-reserved', 1],
      ['standard', 0],
    ]);
    expect(of('other-00001')).toEqual([
      ['reserved-only', 0],
      ['scaling-from-reserved', 0],
      ['standard', 1],
    ]);
  });
});
