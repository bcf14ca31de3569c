// The HorizontalPodAutoscaler an HPA-class PodAutoscaler asks for, and when a live one needs
// updating (upstream pkg/reconciler/autoscaling/hpa/resources/hpa.go).
import type { PodAutoscaler } from '../../../lib/apis/autoscaling.ts';
import { describe, expect, it } from 'vitest';
import { canonicalQuantity, hpaSpecDiffers, makeHorizontalPodAutoscaler } from '../../../autoscaler/hpa/resources.ts';
import { isHpa } from '../../../autoscaler/hpa/reconciler.ts';
import { resolveRevisionAutoscaling } from '../../../autoscaler/revisionAutoscaling.ts';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';
import { parseAutoscalingAnnotations } from '../../../lib/config/autoscalingAnnotations.ts';

const HPA = 'hpa.autoscaling.knative.dev';

function pa(
  annotations: Record<string, string> = {},
  reachability: 'Reachable' | 'Unreachable' = 'Reachable',
): PodAutoscaler {
  return {
    apiVersion: 'autoscaling.internal.knative.dev/v1alpha1',
    kind: 'PodAutoscaler',
    metadata: {
      name: 'hello-00001',
      namespace: 'ns',
      uid: 'pa-uid',
      annotations: { 'autoscaling.knative.dev/class': HPA, ...annotations },
      labels: { 'serving.knative.dev/revision': 'hello-00001' },
    },
    spec: {
      containerConcurrency: 0,
      reachability,
      protocolType: 'http1',
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello-00001-deployment' },
    },
  };
}

/** The HPA for a PA, its settings resolved the way the reconciler resolves them. */
function hpaFor(object: PodAutoscaler, configData?: Record<string, string>) {
  const config = parseAutoscalerConfig(configData);
  const { values, issues } = parseAutoscalingAnnotations(object.metadata?.annotations, config);
  expect(issues).toEqual([]);
  const settings = resolveRevisionAutoscaling(config, values, {
    containerConcurrency: 0,
    reachable: object.spec.reachability !== 'Unreachable',
  });
  return makeHorizontalPodAutoscaler(object, settings, values);
}

describe('makeHorizontalPodAutoscaler', () => {
  it('targets the revision Deployment with 80 % cpu, one to unlimited replicas, named after and owned by the PA', () => {
    expect(hpaFor(pa())).toEqual({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: {
        name: 'hello-00001',
        namespace: 'ns',
        labels: { 'serving.knative.dev/revision': 'hello-00001' },
        annotations: { 'autoscaling.knative.dev/class': HPA },
        ownerReferences: [
          {
            apiVersion: 'autoscaling.internal.knative.dev/v1alpha1',
            kind: 'PodAutoscaler',
            name: 'hello-00001',
            uid: 'pa-uid',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello-00001-deployment' },
        minReplicas: 1,
        maxReplicas: 2_147_483_647,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
        ],
      },
    });
  });

  it('takes the cpu target as a utilization percentage, rounded up', () => {
    expect(
      hpaFor(pa({ 'autoscaling.knative.dev/metric': 'cpu', 'autoscaling.knative.dev/target': '55.2' })).spec!.metrics,
    ).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 56 } } },
    ]);
  });

  it('takes the memory target as MiB per pod, written as the API server writes it back', () => {
    expect(
      hpaFor(pa({ 'autoscaling.knative.dev/metric': 'memory', 'autoscaling.knative.dev/target': '100' })).spec!.metrics,
    ).toEqual([
      { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } },
    ]);
    expect(
      hpaFor(pa({ 'autoscaling.knative.dev/metric': 'memory', 'autoscaling.knative.dev/target': '2048.7' })).spec!
        .metrics![0]!.resource!.target.averageValue,
    ).toBe('2Gi');
  });

  it('takes any other metric as a per-pod custom metric', () => {
    expect(
      hpaFor(pa({ 'autoscaling.knative.dev/metric': 'http_requests', 'autoscaling.knative.dev/target': '3000' })).spec!
        .metrics,
    ).toEqual([
      {
        type: 'Pods',
        pods: { metric: { name: 'http_requests' }, target: { type: 'AverageValue', averageValue: '3k' } },
      },
    ]);
  });

  it('falls back to the Kubernetes default of 80 % cpu for a metric without a target, as upstream ends up with', () => {
    expect(hpaFor(pa({ 'autoscaling.knative.dev/metric': 'memory' })).spec!.metrics).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
    ]);
  });

  it('bounds replicas by min-scale and max-scale, from annotations over config-autoscaler', () => {
    const fromAnnotations = hpaFor(
      pa({ 'autoscaling.knative.dev/min-scale': '2', 'autoscaling.knative.dev/max-scale': '7' }),
      { 'max-scale': '9' },
    );
    expect(fromAnnotations.spec).toMatchObject({ minReplicas: 2, maxReplicas: 7 });
    expect(hpaFor(pa(), { 'min-scale': '3', 'max-scale': '9' }).spec).toMatchObject({ minReplicas: 3, maxReplicas: 9 });
  });

  it('never asks for fewer than one replica: an HPA cannot scale to zero, not even an unreachable revision', () => {
    expect(hpaFor(pa({ 'autoscaling.knative.dev/min-scale': '0' })).spec!.minReplicas).toBe(1);
    expect(hpaFor(pa({ 'autoscaling.knative.dev/min-scale': '4' }, 'Unreachable')).spec!.minReplicas).toBe(1);
  });

  it('turns the window annotation into the stabilization window of both directions', () => {
    expect(hpaFor(pa({ 'autoscaling.knative.dev/window': '90s' })).spec!.behavior).toEqual({
      scaleUp: { stabilizationWindowSeconds: 90 },
      scaleDown: { stabilizationWindowSeconds: 90 },
    });
    expect(hpaFor(pa()).spec!.behavior).toBeUndefined();
  });
});

describe('hpaSpecDiffers', () => {
  const wanted = hpaFor(pa({ 'autoscaling.knative.dev/window': '60s' })).spec!;
  // What the API server returns: the given behavior completed with its default policies.
  const live = structuredClone(wanted);
  live.behavior = {
    scaleUp: {
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    },
  };

  it('sees no difference in what the API server only filled in', () => {
    expect(hpaSpecDiffers(wanted, live)).toBe(false);
  });

  it('sees a changed bound, metric or window', () => {
    expect(hpaSpecDiffers({ ...wanted, maxReplicas: 5 }, live)).toBe(true);
    expect(
      hpaSpecDiffers(
        hpaFor(pa({ 'autoscaling.knative.dev/window': '60s', 'autoscaling.knative.dev/target': '50' })).spec!,
        live,
      ),
    ).toBe(true);
    expect(hpaSpecDiffers(hpaFor(pa({ 'autoscaling.knative.dev/window': '30s' })).spec!, live)).toBe(true);
  });

  it('sees a behavior that is no longer wanted, and a missing live spec', () => {
    expect(hpaSpecDiffers(hpaFor(pa()).spec!, live)).toBe(true);
    expect(hpaSpecDiffers(wanted, undefined)).toBe(true);
  });
});

describe('canonicalQuantity', () => {
  it('uses the largest suffix that keeps the mantissa whole', () => {
    expect(canonicalQuantity(0, 'binary')).toBe('0');
    expect(canonicalQuantity(1536 * 1024 * 1024, 'binary')).toBe('1536Mi');
    expect(canonicalQuantity(1024 ** 3, 'binary')).toBe('1Gi');
    expect(canonicalQuantity(1500, 'decimal')).toBe('1500');
    expect(canonicalQuantity(2_000_000, 'decimal')).toBe('2M');
  });
});

describe('isHpa', () => {
  it('reads the class annotation, else the cluster default', () => {
    const config = parseAutoscalerConfig(undefined);
    expect(isHpa(pa(), config)).toBe(true);
    expect(isHpa(pa({ 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev' }), config)).toBe(false);
    const kpaDefault = pa();
    delete kpaDefault.metadata!.annotations!['autoscaling.knative.dev/class'];
    expect(isHpa(kpaDefault, config)).toBe(false);
    expect(isHpa(kpaDefault, parseAutoscalerConfig({ 'pod-autoscaler-class': HPA }))).toBe(true);
  });
});
