// config-autoscaler: cluster-wide defaults and bounds of the KPA (upstream pkg/autoscaler/config/config.go).
import { z } from 'zod';
import {
  boolString,
  durationString,
  floatString,
  intString,
  type ConfigIssueReporter,
  parseConfigMap,
} from './parse.ts';

export const KPA_CLASS = 'kpa.autoscaling.knative.dev';
export const HPA_CLASS = 'hpa.autoscaling.knative.dev';
const HOUR_MS = 3_600_000;

export const autoscalerSchema = z
  .object({
    'container-concurrency-target-percentage': floatString({ gt: 0, max: 100 }).default(70),
    'container-concurrency-target-default': floatString({ min: 0.01 }).default(100),
    'requests-per-second-target-default': floatString({ min: 0.01 }).default(200),
    'target-burst-capacity': floatString().default(211),
    'stable-window': durationString({ minMs: 6000, maxMs: HOUR_MS, wholeSeconds: true }).default(60_000),
    'panic-window-percentage': floatString({ min: 1, max: 100 }).default(10),
    'panic-threshold-percentage': floatString({ min: 110, max: 1000 }).default(200),
    'max-scale-up-rate': floatString({ gt: 1 }).default(1000),
    'max-scale-down-rate': floatString({ gt: 1 }).default(2),
    'enable-scale-to-zero': boolString.default(true),
    'scale-to-zero-grace-period': durationString({ minMs: 1 }).default(30_000),
    'scale-to-zero-pod-retention-period': durationString().default(0),
    'scale-down-delay': durationString({ maxMs: HOUR_MS, wholeSeconds: true }).default(0),
    'pod-autoscaler-class': z.string().trim().min(1).default(KPA_CLASS),
    'activator-capacity': floatString({ min: 1 }).default(100),
    'initial-scale': intString({ min: 0 }).default(1),
    'allow-zero-initial-scale': boolString.default(false),
    'min-scale': intString({ min: 0 }).default(0),
    'max-scale': intString({ min: 0 }).default(0),
    'max-scale-limit': intString({ min: 0 }).default(0),
  })
  .superRefine((c, ctx) => {
    const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
    const tbc = c['target-burst-capacity'];
    if (tbc < 0 && tbc !== -1) issue('target-burst-capacity', 'must be at least 0, or -1 for unlimited');
    const utilization = targetFraction(c['container-concurrency-target-percentage']);
    if (utilization * c['container-concurrency-target-default'] < 0.01) {
      issue('container-concurrency-target-default', 'times the target percentage must be at least 0.01');
    }
    if (c['initial-scale'] === 0 && !c['allow-zero-initial-scale']) {
      issue('initial-scale', 'must be at least 1 unless allow-zero-initial-scale is true');
    }
    if (c['max-scale'] > 0 && c['min-scale'] > c['max-scale']) issue('min-scale', 'must not exceed max-scale');
    if (c['max-scale-limit'] > 0 && (c['max-scale'] === 0 || c['max-scale'] > c['max-scale-limit'])) {
      issue('max-scale', `must be between 1 and max-scale-limit (${c['max-scale-limit']})`);
    }
  })
  .transform((c) => ({
    containerConcurrencyTargetFraction: targetFraction(c['container-concurrency-target-percentage']),
    containerConcurrencyTargetDefault: c['container-concurrency-target-default'],
    rpsTargetDefault: c['requests-per-second-target-default'],
    targetBurstCapacity: c['target-burst-capacity'],
    stableWindowMs: c['stable-window'],
    panicWindowPercentage: c['panic-window-percentage'],
    panicThresholdPercentage: c['panic-threshold-percentage'],
    maxScaleUpRate: c['max-scale-up-rate'],
    maxScaleDownRate: c['max-scale-down-rate'],
    enableScaleToZero: c['enable-scale-to-zero'],
    scaleToZeroGracePeriodMs: c['scale-to-zero-grace-period'],
    scaleToZeroPodRetentionPeriodMs: c['scale-to-zero-pod-retention-period'],
    scaleDownDelayMs: c['scale-down-delay'],
    podAutoscalerClass: c['pod-autoscaler-class'],
    activatorCapacity: c['activator-capacity'],
    initialScale: c['initial-scale'],
    allowZeroInitialScale: c['allow-zero-initial-scale'],
    minScale: c['min-scale'],
    maxScale: c['max-scale'],
    maxScaleLimit: c['max-scale-limit'],
  }));

/** Knative reads values up to 1.0 as a fraction and larger ones as a percentage. */
function targetFraction(value: number): number {
  return value <= 1 ? value : value / 100;
}

export type AutoscalerConfig = z.output<typeof autoscalerSchema>;

export const CONFIG_AUTOSCALER = 'config-autoscaler';
export const parseAutoscalerConfig = (data?: Record<string, string>, report?: ConfigIssueReporter): AutoscalerConfig =>
  parseConfigMap(CONFIG_AUTOSCALER, autoscalerSchema, data, report);
