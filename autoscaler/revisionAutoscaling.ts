// The effective autoscaling settings of one revision: its annotations over config-autoscaler
// (upstream pkg/reconciler/autoscaling/resources/{target,metric}.go, kpa/resources/decider.go,
// and PodAutoscaler.ScaleBounds).
import type { AutoscalerConfig } from '../lib/config/autoscaler.ts';
import type { AutoscalingAnnotations } from '../lib/config/autoscalingAnnotations.ts';
import type { ScalingMetric } from './metrics/revisionMetrics.ts';
import { BUCKET_MS, type AggregationAlgorithm } from './metrics/windowAverager.ts';

/** The smallest per-pod target Knative accepts; also the floor of the computed target. */
export const TARGET_MIN = 0.01;
/** Utilisation applied to rps targets; config-autoscaler has no key for it. */
export const DEFAULT_TARGET_UTILIZATION = 0.7;

export interface RevisionAutoscaling {
  metric: ScalingMetric;
  aggregation: AggregationAlgorithm;
  /** Per-pod load the autoscaler aims for. */
  targetValue: number;
  /** Per-pod load a pod can take at most; the base of burst capacity. */
  totalValue: number;
  /** Spare capacity to keep before the activator leaves the path; −1 keeps it always, 0 never. */
  targetBurstCapacity: number;
  /** Panic when the panic-window load needs this many times the ready pods. */
  panicThreshold: number;
  stableWindowMs: number;
  panicWindowMs: number;
  scaleDownDelayMs: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  activatorCapacity: number;
  initialScale: number;
  /** Smallest non-zero scale; 0 when not set. */
  activationScale: number;
  /** 0 when the revision is unreachable, so that it can drain to zero. */
  minScale: number;
  /** 0 means unlimited. */
  maxScale: number;
  /** 0 when the revision is unreachable. */
  scaleToZeroPodRetentionMs: number;
  /** False when no route sends traffic to the revision. */
  reachable: boolean;
}

export interface RevisionFacts {
  /** spec.containerConcurrency; 0 means unlimited. */
  containerConcurrency: number;
  reachable: boolean;
}

export function resolveRevisionAutoscaling(
  config: AutoscalerConfig,
  annotations: AutoscalingAnnotations,
  revision: RevisionFacts,
): RevisionAutoscaling {
  const metric: ScalingMetric = annotations.metric === 'rps' ? 'rps' : 'concurrency';
  const { targetValue, totalValue } = resolveMetricTarget(config, annotations, metric, revision.containerConcurrency);
  const stableWindowMs = annotations.windowMs ?? config.stableWindowMs;
  const { reachable } = revision;
  return {
    metric,
    aggregation: annotations.metricAggregationAlgorithm ?? 'linear',
    targetValue,
    totalValue,
    targetBurstCapacity: annotations.targetBurstCapacity ?? config.targetBurstCapacity,
    panicThreshold: (annotations.panicThresholdPercentage ?? config.panicThresholdPercentage) / 100,
    stableWindowMs,
    panicWindowMs: panicWindowMs(stableWindowMs, annotations.panicWindowPercentage ?? config.panicWindowPercentage),
    scaleDownDelayMs: annotations.scaleDownDelayMs ?? config.scaleDownDelayMs,
    maxScaleUpRate: config.maxScaleUpRate,
    maxScaleDownRate: config.maxScaleDownRate,
    activatorCapacity: config.activatorCapacity,
    initialScale: annotations.initialScale ?? config.initialScale,
    activationScale: annotations.activationScale ?? 0,
    minScale: reachable ? (annotations.minScale ?? config.minScale) : 0,
    maxScale: annotations.maxScale ?? config.maxScale,
    scaleToZeroPodRetentionMs: reachable
      ? (annotations.scaleToZeroPodRetentionPeriodMs ?? config.scaleToZeroPodRetentionPeriodMs)
      : 0,
    reachable,
  };
}

function resolveMetricTarget(
  config: AutoscalerConfig,
  annotations: AutoscalingAnnotations,
  metric: ScalingMetric,
  containerConcurrency: number,
): { targetValue: number; totalValue: number } {
  let total: number;
  let utilization: number;
  if (metric === 'rps') {
    total = config.rpsTargetDefault;
    utilization = DEFAULT_TARGET_UTILIZATION;
  } else {
    total = containerConcurrency === 0 ? config.containerConcurrencyTargetDefault : containerConcurrency;
    utilization = config.containerConcurrencyTargetFraction;
  }
  if (annotations.target !== undefined) {
    // Never aim above what the container declares it can take.
    total =
      metric === 'concurrency' && containerConcurrency !== 0
        ? Math.min(annotations.target, containerConcurrency)
        : annotations.target;
  }
  if (annotations.targetUtilizationPercentage !== undefined)
    utilization = annotations.targetUtilizationPercentage / 100;
  return { targetValue: Math.max(TARGET_MIN, total * utilization), totalValue: total };
}

/** A percentage of the stable window, rounded to whole seconds, at least one bucket long. */
export function panicWindowMs(stableWindowMs: number, percentage: number): number {
  const seconds = Math.round((stableWindowMs * percentage) / 100 / 1000);
  return Math.max(BUCKET_MS, seconds * 1000);
}
