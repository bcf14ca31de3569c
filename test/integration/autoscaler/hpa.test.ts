// HPA-class PodAutoscalers against the real API server: the autoscaler creates an
// autoscaling/v2 HorizontalPodAutoscaler owned by the PA, keeps it in line with the PA's
// annotations, copies its counts into the PA status, serves through the SKS, never decides or
// scales itself, and removes the HPA when the PA goes or changes class. There is no
// kube-controller-manager here, so the test writes the HPA status the HPA controller would.
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { StaticPodSource } from '../../../autoscaler/collector/podSource.ts';
import type { RunningAutoscaler } from '../../../autoscaler/runtime.ts';
import { realClock } from '../../../lib/clock.ts';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';
import { isNotFound } from '../../../lib/kube/errors.ts';
import { createNamespace } from '../../support/kube.ts';
import { eventually } from '../lib/wait.ts';
import {
  api,
  createDeployment,
  createPodAutoscaler,
  paCollection,
  pause,
  paStatus,
  recordingClient,
  startAutoscalerProcess,
  type RecordedCall,
} from './support.ts';

const HPA_CLASS = 'hpa.autoscaling.knative.dev';
const hpaPath = (ns: string, name: string) => `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/${name}`;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startHarness(ns: string): Promise<{ autoscaler: RunningAutoscaler; calls: RecordedCall[] }> {
  const calls: RecordedCall[] = [];
  const registry = new Registry();
  const config = parseAutoscalerConfig(undefined);
  const running = await startAutoscalerProcess(ns, {
    client: recordingClient(calls),
    pods: new StaticPodSource(),
    clock: realClock,
    registry,
    config: () => config,
    scrapeOnTimer: false,
  });
  cleanups.push(() => running.stop());
  return { autoscaler: running.autoscaler, calls };
}

async function hpaOf(ns: string, name: string): Promise<V2HorizontalPodAutoscaler | undefined> {
  try {
    return await api.request<V2HorizontalPodAutoscaler>('GET', hpaPath(ns, name));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function annotate(ns: string, name: string, annotations: Record<string, string | null>): Promise<void> {
  await api.request('PATCH', `${paCollection(ns)}/${name}`, {
    body: { metadata: { annotations } },
    contentType: 'application/merge-patch+json',
  });
}

describe('HPA-class PodAutoscalers against the real API server', () => {
  it('creates, updates and deletes the HorizontalPodAutoscaler and reports its counts in the PA', async () => {
    const ns = await createNamespace('hpa');
    const revision = 'cpu-00001';
    const deployment = await createDeployment(ns, revision, 1);
    const { autoscaler, calls } = await startHarness(ns);
    const pa = await createPodAutoscaler(ns, revision, {
      'autoscaling.knative.dev/class': HPA_CLASS,
      'autoscaling.knative.dev/metric': 'cpu',
      'autoscaling.knative.dev/target': '60',
      'autoscaling.knative.dev/min-scale': '2',
      'autoscaling.knative.dev/max-scale': '5',
    });

    await eventually(async () => (await hpaOf(ns, revision)) !== undefined, 'the HPA to be created');
    const created = (await hpaOf(ns, revision))!;
    expect(created.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'PodAutoscaler', name: revision, uid: pa.metadata.uid, controller: true }),
    ]);
    expect(created.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment },
      minReplicas: 2,
      maxReplicas: 5,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
      ],
    });

    // What the HPA controller would report.
    await api.request('PUT', `${hpaPath(ns, revision)}/status`, {
      body: { ...created, status: { currentReplicas: 3, desiredReplicas: 4, currentMetrics: [], conditions: [] } },
    });
    // The HPA's counts and the SKS's service names reach the PA status in separate reconciles.
    await eventually(async () => {
      const status = await paStatus(ns, revision);
      return status.desiredScale === 4 && status.serviceName !== undefined;
    }, 'the HPA counts and the SKS services in the PA status');
    const status = await paStatus(ns, revision);
    expect(status).toMatchObject({
      desiredScale: 4,
      actualScale: 3,
      metricsServiceName: `${revision}-private`,
      serviceName: revision,
    });
    // No pod is in the private Endpoints yet, so the SKS is not ready, and the revision counts
    // as initialized only once it is.
    expect(status.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Active', status: 'True' }),
        expect.objectContaining({ type: 'SKSReady', status: 'Unknown' }),
        expect.objectContaining({ type: 'ScaleTargetInitialized', status: 'Unknown' }),
      ]),
    );
    // The pods as the endpoints controller would report them.
    await api.request('POST', `/api/v1/namespaces/${ns}/endpoints`, {
      body: {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: {
          name: `${revision}-private`,
          labels: {
            'networking.internal.knative.dev/serverlessservice': revision,
            'networking.internal.knative.dev/serviceType': 'Private',
          },
        },
        subsets: [
          {
            addresses: [{ ip: '10.1.0.1' }, { ip: '10.1.0.2' }, { ip: '10.1.0.3' }],
            ports: [{ name: 'http', port: 8012, protocol: 'TCP' }],
          },
        ],
      },
    });
    await eventually(
      async () =>
        (await paStatus(ns, revision)).conditions?.some(
          (c: { type: string; status: string }) => c.type === 'ScaleTargetInitialized' && c.status === 'True',
        ),
      'the revision to be initialized at its min-scale',
    );
    expect((await paStatus(ns, revision)).conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'SKSReady', status: 'True' }),
        expect.objectContaining({ type: 'Ready', status: 'True' }),
      ]),
    );
    const sks = await api.request<{ spec: { mode: string } }>(
      'GET',
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/serverlessservices/${revision}`,
    );
    expect(sks.spec.mode).toBe('Serve');
    // Kubernetes scales this revision, not the KPA.
    expect(autoscaler.scalers.status(`${ns}/${revision}`)).toBeUndefined();
    expect(calls.filter((c) => c.path.endsWith('/scale'))).toEqual([]);

    await annotate(ns, revision, { 'autoscaling.knative.dev/max-scale': '8', 'autoscaling.knative.dev/window': '90s' });
    await eventually(
      async () => (await hpaOf(ns, revision))?.spec?.maxReplicas === 8,
      'the HPA to take the new max-scale',
    );
    const updated = (await hpaOf(ns, revision))!;
    expect(updated.spec?.behavior?.scaleUp?.stabilizationWindowSeconds).toBe(90);
    expect(updated.spec?.behavior?.scaleDown?.stabilizationWindowSeconds).toBe(90);
    // The API server completed the behavior with its default policies; that is no reason to
    // write the HPA again on every reconcile.
    const hpaWrites = () => calls.filter((c) => c.method === 'PUT' && c.path === hpaPath(ns, revision)).length;
    const writesAfterUpdate = hpaWrites();
    autoscaler.resyncAll();
    await annotate(ns, revision, { 'example.com/unrelated': 'x' });
    await pause(500);
    expect(hpaWrites()).toBe(writesAfterUpdate);

    await api.request('DELETE', `${paCollection(ns)}/${revision}`);
    await eventually(async () => (await hpaOf(ns, revision)) === undefined, 'the HPA to be deleted with its PA');
  });

  it('hands a PodAutoscaler whose class changes to the KPA and deletes its HPA', async () => {
    const ns = await createNamespace('hpa');
    const revision = 'switch-00001';
    await createDeployment(ns, revision, 1);
    const { autoscaler } = await startHarness(ns);
    await createPodAutoscaler(ns, revision, { 'autoscaling.knative.dev/class': HPA_CLASS });
    await eventually(async () => (await hpaOf(ns, revision)) !== undefined, 'the HPA to be created');
    expect((await hpaOf(ns, revision))!.spec).toMatchObject({
      minReplicas: 1,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
      ],
    });

    await annotate(ns, revision, { 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev' });
    await eventually(async () => (await hpaOf(ns, revision)) === undefined, 'the HPA to be deleted');
    await eventually(
      () => autoscaler.scalers.status(`${ns}/${revision}`) !== undefined,
      'the KPA to keep a decider for the revision',
    );
  });
});
