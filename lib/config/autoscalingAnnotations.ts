// Per-revision autoscaling annotations (`autoscaling.knative.dev/*`), parsed and checked once
// against config-autoscaler (upstream pkg/apis/autoscaling/annotation_validation.go).
import { HPA_CLASS, KPA_CLASS, type AutoscalerConfig } from './autoscaler.ts';
import { parseGoDuration } from './duration.ts';

export const AUTOSCALING_GROUP = 'autoscaling.knative.dev';

/** Canonical annotation names, each with the camelCase alias Knative still accepts. */
const KEYS = {
  class: [],
  metric: [],
  target: [],
  'target-utilization-percentage': ['targetUtilizationPercentage'],
  window: [],
  'panic-window-percentage': ['panicWindowPercentage'],
  'panic-threshold-percentage': ['panicThresholdPercentage'],
  'min-scale': ['minScale'],
  'max-scale': ['maxScale'],
  'initial-scale': ['initialScale'],
  'activation-scale': [],
  'scale-down-delay': ['scaleDownDelay'],
  'scale-to-zero-pod-retention-period': ['scaleToZeroPodRetentionPeriod'],
  'target-burst-capacity': ['targetBurstCapacity'],
  'metric-aggregation-algorithm': ['metricAggregationAlgorithm'],
} as const satisfies Record<string, readonly string[]>;

export type AutoscalingKey = keyof typeof KEYS;

export interface AnnotationIssue {
  key: string;
  message: string;
}

export interface AutoscalingAnnotations {
  class?: string;
  metric?: string;
  target?: number;
  targetUtilizationPercentage?: number;
  windowMs?: number;
  panicWindowPercentage?: number;
  panicThresholdPercentage?: number;
  minScale?: number;
  maxScale?: number;
  initialScale?: number;
  activationScale?: number;
  scaleDownDelayMs?: number;
  scaleToZeroPodRetentionPeriodMs?: number;
  targetBurstCapacity?: number;
  metricAggregationAlgorithm?: 'linear' | 'weighted-exponential';
}

const HOUR_MS = 3_600_000;

/** The first annotation under autoscaling.knative.dev/ in a map, if there is one. */
export function hasAutoscalingAnnotation(annotations: Record<string, string> | undefined): string | undefined {
  return Object.keys(annotations ?? {}).find((k) => k.startsWith(`${AUTOSCALING_GROUP}/`));
}

export function parseAutoscalingAnnotations(
  annotations: Record<string, string> | undefined,
  config: AutoscalerConfig,
): { values: AutoscalingAnnotations; issues: AnnotationIssue[] } {
  const issues: AnnotationIssue[] = [];
  const values: AutoscalingAnnotations = {};
  const all = annotations ?? {};

  const lookup = (name: AutoscalingKey): { key: string; value: string } | undefined => {
    for (const candidate of [name, ...KEYS[name]]) {
      const key = `${AUTOSCALING_GROUP}/${candidate}`;
      const value = all[key];
      if (value !== undefined) return { key, value };
    }
    return undefined;
  };
  const fail = (key: string, message: string) => {
    issues.push({ key, message });
  };

  const number = (name: AutoscalingKey, rule: { min?: number; max?: number; integer?: boolean; also?: number }) => {
    const found = lookup(name);
    if (!found) return undefined;
    const text = found.value.trim();
    const value = Number(text);
    if (text === '' || !Number.isFinite(value) || (rule.integer && !/^[-+]?\d+$/.test(text))) {
      fail(found.key, `${JSON.stringify(found.value)} is not ${rule.integer ? 'an integer' : 'a number'}`);
      return undefined;
    }
    if (rule.also !== undefined && value === rule.also) return value;
    const low = rule.min !== undefined && value < rule.min;
    const high = rule.max !== undefined && value > rule.max;
    if (low || high) {
      const range = rule.max === undefined ? `at least ${rule.min}` : `between ${rule.min} and ${rule.max}`;
      fail(
        found.key,
        `${found.value} is out of range: must be ${range}${rule.also !== undefined ? ` (or ${rule.also})` : ''}`,
      );
      return undefined;
    }
    return value;
  };
  const duration = (name: AutoscalingKey, rule: { minMs: number; maxMs: number; wholeSeconds: boolean }) => {
    const found = lookup(name);
    if (!found) return undefined;
    const ms = parseGoDuration(found.value.trim());
    if (ms === undefined) {
      fail(found.key, `${JSON.stringify(found.value)} is not a duration such as "60s"`);
      return undefined;
    }
    if (ms < rule.minMs || ms > rule.maxMs) {
      fail(
        found.key,
        `${found.value} is out of range: must be between ${rule.minMs / 1000}s and ${rule.maxMs / 1000}s`,
      );
      return undefined;
    }
    if (rule.wholeSeconds && ms % 1000 !== 0) {
      fail(found.key, `${found.value} must be a whole number of seconds`);
      return undefined;
    }
    return ms;
  };

  const klass = lookup('class');
  if (klass) {
    if (klass.value.endsWith('.knative.dev') && klass.value !== KPA_CLASS && klass.value !== HPA_CLASS) {
      fail(klass.key, `${JSON.stringify(klass.value)} is not a known class: use ${KPA_CLASS} or ${HPA_CLASS}`);
    } else {
      values.class = klass.value;
    }
  }
  const effectiveClass = values.class ?? config.podAutoscalerClass;

  const metric = lookup('metric');
  if (metric) {
    const allowed = effectiveClass === KPA_CLASS ? ['concurrency', 'rps'] : undefined;
    if (allowed && !allowed.includes(metric.value)) {
      fail(
        metric.key,
        `${JSON.stringify(metric.value)} is not a metric of the ${KPA_CLASS} class: use concurrency or rps`,
      );
    } else if (metric.value === '') {
      fail(metric.key, 'must not be empty');
    } else {
      values.metric = metric.value;
    }
  }

  const target = lookup('target');
  if (target) {
    const value = Number(target.value);
    if (target.value.trim() === '' || !Number.isFinite(value))
      fail(target.key, `${JSON.stringify(target.value)} is not a number`);
    else if (value < 0.01) fail(target.key, `target ${target.value} should be at least 0.01`);
    else values.target = value;
  }
  values.targetUtilizationPercentage = number('target-utilization-percentage', { min: 1, max: 100 });
  values.windowMs = duration('window', { minMs: 6000, maxMs: HOUR_MS, wholeSeconds: true });
  values.panicWindowPercentage = number('panic-window-percentage', { min: 1, max: 100 });
  values.panicThresholdPercentage = number('panic-threshold-percentage', { min: 110, max: 1000 });
  values.targetBurstCapacity = number('target-burst-capacity', { min: 0, also: -1 });
  values.scaleDownDelayMs = duration('scale-down-delay', { minMs: 0, maxMs: HOUR_MS, wholeSeconds: true });
  values.scaleToZeroPodRetentionPeriodMs = duration('scale-to-zero-pod-retention-period', {
    minMs: 0,
    maxMs: HOUR_MS,
    wholeSeconds: false,
  });

  const algorithm = lookup('metric-aggregation-algorithm');
  if (algorithm) {
    const normalized =
      algorithm.value.toLowerCase() === 'weightedexponential' ? 'weighted-exponential' : algorithm.value.toLowerCase();
    if (normalized !== 'linear' && normalized !== 'weighted-exponential') {
      fail(algorithm.key, `${JSON.stringify(algorithm.value)} is not an algorithm: use linear or weighted-exponential`);
    } else if (effectiveClass !== KPA_CLASS) {
      fail(algorithm.key, `only the ${KPA_CLASS} class aggregates metrics`);
    } else {
      values.metricAggregationAlgorithm = normalized;
    }
  }

  const int32Max = 2_147_483_647;
  values.minScale = number('min-scale', { min: 0, max: int32Max, integer: true });
  values.maxScale = number('max-scale', { min: 0, max: int32Max, integer: true });
  const minScale = values.minScale ?? 0;
  const maxScale = values.maxScale ?? 0;
  if (maxScale !== 0 && maxScale < minScale) {
    fail(lookup('max-scale')!.key, `max-scale=${maxScale} is less than min-scale=${minScale}`);
  }
  const maxScaleFound = lookup('max-scale');
  if (maxScaleFound && values.maxScale !== undefined && config.maxScaleLimit > 0) {
    if (maxScale === 0 || maxScale > config.maxScaleLimit) {
      fail(
        maxScaleFound.key,
        `${maxScale} is out of range: must be between 1 and max-scale-limit (${config.maxScaleLimit})`,
      );
    }
  }

  const initial = number('initial-scale', { min: 0, max: int32Max, integer: true });
  if (initial === 0 && !config.allowZeroInitialScale) {
    fail(
      lookup('initial-scale')!.key,
      'initial-scale=0 is not allowed by the cluster (config-autoscaler allow-zero-initial-scale is false)',
    );
  } else {
    values.initialScale = initial;
  }

  const activation = number('activation-scale', { min: 0, max: int32Max, integer: true });
  if (activation !== undefined) {
    const key = lookup('activation-scale')!.key;
    if (activation < 2) fail(key, `activation-scale=${activation} must be greater than 1`);
    else if (minScale > activation) fail(key, `min-scale=${minScale} is greater than activation-scale=${activation}`);
    else if (maxScale !== 0 && maxScale < activation)
      fail(key, `max-scale=${maxScale} is less than activation-scale=${activation}`);
    else values.activationScale = activation;
  }

  for (const key of Object.keys(values) as (keyof AutoscalingAnnotations)[]) {
    if (values[key] === undefined) delete values[key];
  }
  return { values, issues };
}
