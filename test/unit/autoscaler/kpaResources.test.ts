import type { PodAutoscaler } from '../../../lib/apis/autoscaling.ts';
import { describe, expect, it } from 'vitest';
import { makeServerlessService, revisionOf, scaleSubresourcePath } from '../../../autoscaler/kpa/podAutoscaler.ts';
import { isKpa, metricLabels } from '../../../autoscaler/kpa/reconciler.ts';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';

function pa(annotations: Record<string, string> = {}): PodAutoscaler {
  return {
    apiVersion: 'autoscaling.internal.knative.dev/v1alpha1',
    kind: 'PodAutoscaler',
    metadata: {
      name: 'hello-00001',
      namespace: 'ns',
      uid: 'pa-uid',
      annotations,
      labels: {
        'serving.knative.dev/revision': 'hello-00001',
        'serving.knative.dev/service': 'hello',
        'serving.knative.dev/configuration': 'hello',
      },
    },
    spec: {
      containerConcurrency: 0,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello-00001-deployment' },
      protocolType: 'h2c',
    },
  };
}

describe('makeServerlessService', () => {
  it('asks for an SKS named after the PA, owned by it, for the same target and protocol', () => {
    expect(makeServerlessService(pa({ 'autoscaling.knative.dev/target': '5' }), 'Proxy', 3)).toEqual({
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'ServerlessService',
      metadata: {
        name: 'hello-00001',
        namespace: 'ns',
        labels: pa().metadata!.labels,
        annotations: { 'autoscaling.knative.dev/target': '5' },
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
        mode: 'Proxy',
        numActivators: 3,
        objectRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello-00001-deployment' },
        protocolType: 'h2c',
      },
    });
  });
});

describe('scaleSubresourcePath', () => {
  it('addresses the scale subresource of the target', () => {
    expect(scaleSubresourcePath(pa())).toBe('/apis/apps/v1/namespaces/ns/deployments/hello-00001-deployment/scale');
  });

  it('refuses a target it cannot scale', () => {
    const other = pa();
    other.spec.scaleTargetRef = { apiVersion: 'example.com/v1', kind: 'Widget', name: 'w' };
    expect(() => scaleSubresourcePath(other)).toThrow(/cannot scale Widget w/);
  });
});

describe('PodAutoscaler facts', () => {
  const config = parseAutoscalerConfig(undefined);

  it('is KPA by annotation, or by the cluster default when it has none', () => {
    expect(isKpa(pa(), config)).toBe(true);
    expect(isKpa(pa({ 'autoscaling.knative.dev/class': 'hpa.autoscaling.knative.dev' }), config)).toBe(false);
    expect(isKpa(pa(), parseAutoscalerConfig({ 'pod-autoscaler-class': 'hpa.autoscaling.knative.dev' }))).toBe(false);
  });

  it('labels its metrics the way Knative does', () => {
    expect(metricLabels(pa())).toEqual({
      k8s_namespace_name: 'ns',
      kn_service_name: 'hello',
      kn_configuration_name: 'hello',
      kn_revision_name: 'hello-00001',
    });
  });

  it('names its revision by label, else by its own name', () => {
    const unlabelled = pa();
    unlabelled.metadata!.labels = {};
    expect(revisionOf(unlabelled)).toBe('hello-00001');
  });
});
