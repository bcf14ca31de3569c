import { describe, expect, it } from 'vitest';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';
import { parseAutoscalingAnnotations } from '../../../lib/config/autoscalingAnnotations.ts';
import { containerName, parseDefaults } from '../../../lib/config/defaults.ts';
import { parseGoDuration } from '../../../lib/config/duration.ts';
import { parseDeploymentConfig } from '../../../lib/config/deployment.ts';
import { parseFeatures } from '../../../lib/config/features.ts';
import type { ConfigIssue } from '../../../lib/config/parse.ts';
import { refused } from '../../support/configIssues.ts';

describe('Go durations', () => {
  it.each([
    ['60s', 60_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['250ms', 250],
    ['0', 0],
    ['-2s', -2000],
    ['1h0m0s', 3_600_000],
  ])('%s is %d ms', (text, ms) => expect(parseGoDuration(text)).toBe(ms));
  it.each(['', '60', 's', '1d', '1 s', '5sx'])('%j is not a duration', (text) =>
    expect(parseGoDuration(text)).toBeUndefined(),
  );
});

describe('ConfigMaps parsed key by key', () => {
  it('replaces a bad key by its default alone, keeps every other key, and reports the bad one', () => {
    const issues: ConfigIssue[] = [];
    const features = parseFeatures(
      {
        'kubernetes.podspec-affinity': 'Enabled',
        'multi-container': 'yes',
        'kubernetes.podspec-nodeselector': 'enabled',
      },
      (issue) => issues.push(issue),
    );
    expect(features['multi-container']).toBe('Enabled');
    expect(features['kubernetes.podspec-affinity']).toBe('Enabled');
    expect(features['kubernetes.podspec-nodeselector']).toBe('Enabled');
    expect(issues).toEqual([{ key: 'multi-container', message: 'must be Enabled, Disabled or Allowed' }]);
  });

  it("accepts upstream's secure-pod-defaults: AllowRootBounded and keeps the rest of config-features", () => {
    const issues: ConfigIssue[] = [];
    const features = parseFeatures(
      { 'secure-pod-defaults': 'allowrootbounded', 'kubernetes.podspec-fieldref': 'Enabled' },
      (issue) => issues.push(issue),
    );
    expect(features['secure-pod-defaults']).toBe('AllowRootBounded');
    expect(features['kubernetes.podspec-fieldref']).toBe('Enabled');
    expect(issues).toEqual([]);
    expect(refused(parseFeatures, { 'kubernetes.podspec-fieldref': 'AllowRootBounded' })).toBe(
      'kubernetes.podspec-fieldref: must be Enabled, Disabled or Allowed',
    );
  });

  it('drops the key a cross-key rule names, not the ConfigMap', () => {
    const issues: ConfigIssue[] = [];
    const defaults = parseDefaults({ 'revision-timeout-seconds': '700', 'container-concurrency': '10' }, (issue) =>
      issues.push(issue),
    );
    expect(defaults.revisionTimeoutSeconds).toBe(300);
    expect(defaults.containerConcurrency).toBe(10);
    expect(issues.map((i) => i.key)).toEqual(['revision-timeout-seconds']);
  });

  it('ignores keys it does not know, as Knative does', () => {
    expect(refused(parseDefaults, { 'some-future-key': 'whatever', _example: 'docs' })).toBe('');
  });

  it('throws, naming the key, only when a required key has no default to fall back to', () => {
    expect(() => parseDeploymentConfig({ 'progress-deadline': '10m' })).toThrow(
      'ConfigMap config-deployment is invalid: queue-sidecar-image: is required',
    );
    expect(refused(parseDeploymentConfig, { 'queue-sidecar-image': ' ', 'progress-deadline': 'soon' })).toBe(
      'queue-sidecar-image: must name the queue-proxy image; ' +
        'progress-deadline: must be a duration such as "60s" or "1m30s"; ' +
        'queue-sidecar-image: is required: the image of the queue-proxy sidecar',
    );
  });
});

describe('config-defaults', () => {
  it("has Knative's defaults", () => {
    expect(parseDefaults()).toMatchObject({
      revisionTimeoutSeconds: 300,
      maxRevisionTimeoutSeconds: 600,
      containerConcurrency: 0,
      containerConcurrencyMaxLimit: 1000,
      containerNameTemplate: 'user-container',
      enableServiceLinks: false,
    });
  });
  it('names every bad key and its rule', () => {
    expect(refused(parseDefaults, { 'revision-timeout-seconds': '700', 'container-concurrency': 'ten' })).toMatch(
      'container-concurrency: must be an integer; revision-timeout-seconds: must not exceed max-revision-timeout-seconds',
    );
  });
  it('expands container name templates over the parent', () => {
    expect(containerName('{{.Name}}-{{ .Namespace }}', { name: 'svc', namespace: 'ns' })).toBe('svc-ns');
    expect(refused(parseDefaults, { 'container-name-template': '{{.Labels.app}}' })).toMatch(/container-name-template/);
  });
});

describe('config-features', () => {
  it('defaults like Knative and accepts any case', () => {
    const features = parseFeatures({ 'kubernetes.podspec-affinity': 'enabled', 'tag-header-based-routing': 'ALLOWED' });
    expect(features['multi-container']).toBe('Enabled');
    expect(features['kubernetes.podspec-volumes-emptydir']).toBe('Enabled');
    expect(features['kubernetes.podspec-affinity']).toBe('Enabled');
    expect(features['tag-header-based-routing']).toBe('Allowed');
    expect(features['kubernetes.podspec-nodeselector']).toBe('Disabled');
    expect(refused(parseFeatures, { 'multi-container': 'yes' })).toMatch(
      'multi-container: must be Enabled, Disabled or Allowed',
    );
  });
});

describe('config-autoscaler', () => {
  it("has Knative's defaults", () => {
    expect(parseAutoscalerConfig()).toMatchObject({
      containerConcurrencyTargetFraction: 0.7,
      containerConcurrencyTargetDefault: 100,
      rpsTargetDefault: 200,
      targetBurstCapacity: 211,
      stableWindowMs: 60_000,
      panicWindowPercentage: 10,
      panicThresholdPercentage: 200,
      maxScaleUpRate: 1000,
      maxScaleDownRate: 2,
      enableScaleToZero: true,
      scaleToZeroGracePeriodMs: 30_000,
      initialScale: 1,
      allowZeroInitialScale: false,
      maxScaleLimit: 0,
    });
  });
  it('reads a target percentage up to 1.0 as a fraction', () => {
    expect(
      parseAutoscalerConfig({ 'container-concurrency-target-percentage': '0.8' }).containerConcurrencyTargetFraction,
    ).toBe(0.8);
    expect(
      parseAutoscalerConfig({ 'container-concurrency-target-percentage': '80' }).containerConcurrencyTargetFraction,
    ).toBe(0.8);
  });
  it('rejects out-of-range values with their keys', () => {
    expect(
      refused(parseAutoscalerConfig, { 'stable-window': '61500ms', 'max-scale-down-rate': '1', 'initial-scale': '0' }),
    ).toMatch(
      'stable-window: must be a whole number of seconds; max-scale-down-rate: must be greater than 1; initial-scale: must be at least 1 unless allow-zero-initial-scale is true',
    );
  });
});

describe('autoscaling annotations', () => {
  const config = parseAutoscalerConfig();
  const parse = (annotations: Record<string, string>, c = config) => parseAutoscalingAnnotations(annotations, c);

  it('parses canonical names and the camelCase aliases', () => {
    expect(
      parse({
        'autoscaling.knative.dev/minScale': '1',
        'autoscaling.knative.dev/max-scale': '10',
        'autoscaling.knative.dev/target': '50',
        'autoscaling.knative.dev/window': '2m',
        'autoscaling.knative.dev/metric': 'rps',
        'autoscaling.knative.dev/target-burst-capacity': '-1',
        'autoscaling.knative.dev/metric-aggregation-algorithm': 'weightedExponential',
      }),
    ).toEqual({
      values: {
        minScale: 1,
        maxScale: 10,
        target: 50,
        windowMs: 120_000,
        metric: 'rps',
        targetBurstCapacity: -1,
        metricAggregationAlgorithm: 'weighted-exponential',
      },
      issues: [],
    });
  });

  it.each([
    [{ 'autoscaling.knative.dev/class': 'foo.knative.dev' }, 'is not a known class'],
    [{ 'autoscaling.knative.dev/metric': 'cpu' }, 'is not a metric of the kpa.autoscaling.knative.dev class'],
    [{ 'autoscaling.knative.dev/target': '0.001' }, 'should be at least 0.01'],
    [{ 'autoscaling.knative.dev/target-utilization-percentage': '101' }, 'must be between 1 and 100'],
    [{ 'autoscaling.knative.dev/panic-threshold-percentage': '100' }, 'must be between 110 and 1000'],
    [{ 'autoscaling.knative.dev/panic-window-percentage': '0' }, 'must be between 1 and 100'],
    [{ 'autoscaling.knative.dev/min-scale': '-1' }, 'must be between 0 and'],
    [{ 'autoscaling.knative.dev/max-scale': '1.5' }, 'is not an integer'],
    [{ 'autoscaling.knative.dev/initial-scale': '0' }, 'initial-scale=0 is not allowed by the cluster'],
    [{ 'autoscaling.knative.dev/activation-scale': '1' }, 'must be greater than 1'],
    [
      { 'autoscaling.knative.dev/activation-scale': '5', 'autoscaling.knative.dev/max-scale': '3' },
      'max-scale=3 is less than activation-scale=5',
    ],
    [{ 'autoscaling.knative.dev/scale-down-delay': '2h' }, 'must be between 0s and 3600s'],
    [{ 'autoscaling.knative.dev/target-burst-capacity': '-2' }, 'must be at least 0 (or -1)'],
  ])('%j is rejected: %s', (annotations, message) => {
    const { issues } = parse(annotations);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toContain(message);
  });

  it('holds max-scale to max-scale-limit and honours allow-zero-initial-scale', () => {
    const limited = parseAutoscalerConfig({
      'max-scale-limit': '10',
      'max-scale': '5',
      'allow-zero-initial-scale': 'true',
    });
    expect(parse({ 'autoscaling.knative.dev/max-scale': '11' }, limited).issues[0]?.message).toBe(
      '11 is out of range: must be between 1 and max-scale-limit (10)',
    );
    expect(parse({ 'autoscaling.knative.dev/max-scale': '0' }, limited).issues).toHaveLength(1);
    expect(parse({ 'autoscaling.knative.dev/initial-scale': '0' }, limited)).toEqual({
      values: { initialScale: 0 },
      issues: [],
    });
  });
});
