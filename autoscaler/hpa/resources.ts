// The autoscaling/v2 HorizontalPodAutoscaler that stands in for the KPA when a PodAutoscaler
// has the HPA class (upstream pkg/reconciler/autoscaling/hpa/resources/hpa.go): same name as
// the PA and owned by it, targeting the revision's Deployment.
import type { PodAutoscaler } from '../../lib/apis/autoscaling.ts';
import type { V2HorizontalPodAutoscaler, V2HorizontalPodAutoscalerSpec, V2MetricSpec } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { AutoscalingAnnotations } from '../../lib/config/autoscalingAnnotations.ts';
import { childMetadata } from '../kpa/podAutoscaler.ts';
import type { RevisionAutoscaling } from '../revisionAutoscaling.ts';

export const HPA_API_VERSION = 'autoscaling/v2';
/** The Kubernetes HPA's own default when it is given no metric. */
export const DEFAULT_CPU_UTILIZATION_PERCENT = 80;
const INT32_MAX = 2_147_483_647;
const MIB = 1024 * 1024;

export type HpaMetricAnnotations = Pick<AutoscalingAnnotations, 'metric' | 'target' | 'windowMs'>;

/**
 * min-scale and max-scale bound the replicas; an HPA never goes below one, so neither does the
 * minimum, and max-scale 0 (unlimited) becomes the largest count the API accepts.
 */
export function makeHorizontalPodAutoscaler(
  pa: PodAutoscaler,
  settings: Pick<RevisionAutoscaling, 'minScale' | 'maxScale'>,
  annotations: HpaMetricAnnotations,
): V2HorizontalPodAutoscaler {
  const { apiVersion, kind, name } = pa.spec.scaleTargetRef;
  const spec: V2HorizontalPodAutoscalerSpec = {
    scaleTargetRef: { apiVersion, kind: kind ?? '', name: name ?? '' },
    minReplicas: Math.max(1, settings.minScale),
    maxReplicas: settings.maxScale === 0 ? INT32_MAX : settings.maxScale,
    metrics: [metricSpec(annotations)],
  };
  if (annotations.windowMs !== undefined) {
    const seconds = Math.floor(annotations.windowMs / 1000);
    spec.behavior = {
      scaleUp: { stabilizationWindowSeconds: seconds },
      scaleDown: { stabilizationWindowSeconds: seconds },
    };
  }
  return {
    apiVersion: HPA_API_VERSION,
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(pa),
    spec,
  };
}

/**
 * cpu: the target is a utilization percentage of the pods' requests; memory: MiB per pod; any
 * other name: a per-pod custom metric. Without a target upstream sends no metric and Kubernetes
 * falls back to 80 % cpu; that default is written out here so the spec reads back unchanged.
 */
function metricSpec({ metric = 'cpu', target }: HpaMetricAnnotations): V2MetricSpec {
  if (target === undefined || metric === 'cpu') {
    return {
      type: 'Resource',
      resource: {
        name: 'cpu',
        target: { type: 'Utilization', averageUtilization: Math.ceil(target ?? DEFAULT_CPU_UTILIZATION_PERCENT) },
      },
    };
  }
  if (metric === 'memory') {
    return {
      type: 'Resource',
      resource: {
        name: 'memory',
        target: { type: 'AverageValue', averageValue: canonicalQuantity(Math.trunc(target) * MIB, 'binary') },
      },
    };
  }
  return {
    type: 'Pods',
    pods: {
      metric: { name: metric },
      target: { type: 'AverageValue', averageValue: canonicalQuantity(Math.trunc(target), 'decimal') },
    },
  };
}

const BINARY_SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const DECIMAL_SUFFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/**
 * A whole, non-negative quantity as the API server writes it back: the largest suffix that
 * leaves a whole mantissa (1073741824 → 1Gi, 1536 MiB → 1536Mi, 2000 → 2k).
 */
export function canonicalQuantity(value: number, base: 'binary' | 'decimal'): string {
  const [step, suffixes] = base === 'binary' ? [1024, BINARY_SUFFIXES] : [1000, DECIMAL_SUFFIXES];
  let mantissa = value;
  let exponent = 0;
  while (mantissa !== 0 && mantissa % step === 0 && exponent < suffixes.length - 1) {
    mantissa /= step;
    exponent++;
  }
  return `${mantissa}${suffixes[exponent]}`;
}

const SPEC_FIELDS = ['scaleTargetRef', 'minReplicas', 'maxReplicas', 'metrics', 'behavior'] as const;

/**
 * Whether the live spec differs from the wanted one. The API server fills in defaults (the
 * scaling policies of a behavior it was given), so a field matches when everything wanted is
 * there; a field not wanted at all must be absent.
 */
export function hpaSpecDiffers(
  wanted: V2HorizontalPodAutoscalerSpec,
  live: V2HorizontalPodAutoscalerSpec | undefined,
): boolean {
  return SPEC_FIELDS.some((field) => {
    const want = wanted[field];
    const have = live?.[field];
    return want === undefined ? have !== undefined : !containedIn(want, have);
  });
}

function containedIn(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length && want.every((item, i) => containedIn(item, have[i]));
  }
  if (typeof want === 'object' && want !== null) {
    if (typeof have !== 'object' || have === null) return false;
    return Object.entries(want).every(
      ([key, value]) => value === undefined || containedIn(value, (have as Record<string, unknown>)[key]),
    );
  }
  return isDeepStrictEqual(want, have);
}
