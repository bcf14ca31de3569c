import { describe, expect, it } from 'vitest';
import { panicWindowMs } from '../../../autoscaler/revisionAutoscaling.ts';
import { revisionSettings } from './replay.ts';

describe('resolveRevisionAutoscaling: targets', () => {
  it('aims at 70% of the default 100 concurrent requests when containerConcurrency is 0', () => {
    const s = revisionSettings();
    expect(s.metric).toBe('concurrency');
    expect(s.totalValue).toBe(100);
    expect(s.targetValue).toBe(70); // 100 × 0.7
  });

  it('aims at 70% of containerConcurrency', () => {
    const s = revisionSettings({ containerConcurrency: 10 });
    expect([s.targetValue, s.totalValue]).toEqual([7, 10]);
  });

  it('lets the target annotation replace the total, but never above containerConcurrency', () => {
    expect(revisionSettings({ annotations: { target: '50' } }).targetValue).toBe(35); // 50 × 0.7
    const capped = revisionSettings({ annotations: { target: '50' }, containerConcurrency: 10 });
    expect([capped.targetValue, capped.totalValue]).toEqual([7, 10]); // min(50, 10) × 0.7
  });

  it('applies target-utilization-percentage', () => {
    expect(revisionSettings({ annotations: { 'target-utilization-percentage': '50' } }).targetValue).toBe(50); // 100 × 0.5
  });

  it('reads container-concurrency-target-percentage and -default from the ConfigMap', () => {
    const s = revisionSettings({
      config: { 'container-concurrency-target-percentage': '80', 'container-concurrency-target-default': '10' },
    });
    expect(s.targetValue).toBe(8); // 10 × 0.8
  });

  it('aims at 70% of 200 requests per second for the rps metric', () => {
    const s = revisionSettings({ annotations: { metric: 'rps' } });
    expect([s.metric, s.targetValue, s.totalValue]).toEqual(['rps', 140, 200]);
    // the target annotation is not capped by containerConcurrency for rps: 100 × 0.7
    expect(
      revisionSettings({ annotations: { metric: 'rps', target: '100' }, containerConcurrency: 10 }).targetValue,
    ).toBe(70);
  });

  it('never aims below 0.01', () => {
    // 0.01 × 0.7 = 0.007 → 0.01
    expect(revisionSettings({ annotations: { target: '0.01' } }).targetValue).toBe(0.01);
  });
});

describe('resolveRevisionAutoscaling: windows, thresholds and bounds', () => {
  it('derives the panic window and threshold from the percentages', () => {
    const s = revisionSettings();
    expect([s.stableWindowMs, s.panicWindowMs, s.panicThreshold]).toEqual([60_000, 6000, 2]);
    const custom = revisionSettings({
      annotations: { window: '20s', 'panic-window-percentage': '25', 'panic-threshold-percentage': '150' },
    });
    expect([custom.stableWindowMs, custom.panicWindowMs, custom.panicThreshold]).toEqual([20_000, 5000, 1.5]);
  });

  it('rounds the panic window to whole seconds, half away from zero, and to at least one', () => {
    expect(panicWindowMs(61_000, 10)).toBe(6000); // 6.1s
    expect(panicWindowMs(15_000, 10)).toBe(2000); // 1.5s
    expect(panicWindowMs(6000, 1)).toBe(1000); // 0.06s
  });

  it('takes annotations over the ConfigMap', () => {
    const s = revisionSettings({
      config: { 'min-scale': '1', 'max-scale': '10', 'initial-scale': '2', 'target-burst-capacity': '50' },
      annotations: {
        'min-scale': '2',
        'max-scale': '4',
        'initial-scale': '3',
        'target-burst-capacity': '-1',
        'activation-scale': '3',
        'scale-down-delay': '30s',
      },
    });
    expect([
      s.minScale,
      s.maxScale,
      s.initialScale,
      s.targetBurstCapacity,
      s.activationScale,
      s.scaleDownDelayMs,
    ]).toEqual([2, 4, 3, -1, 3, 30_000]);
  });

  it('drops min-scale and pod retention for an unreachable revision', () => {
    const options = { annotations: { 'min-scale': '3', 'scale-to-zero-pod-retention-period': '5m' } };
    const reachable = revisionSettings(options);
    expect([reachable.minScale, reachable.scaleToZeroPodRetentionMs]).toEqual([3, 300_000]);
    const unreachable = revisionSettings({ ...options, reachable: false });
    expect([unreachable.minScale, unreachable.scaleToZeroPodRetentionMs, unreachable.reachable]).toEqual([0, 0, false]);
  });

  it('selects the aggregation algorithm from its annotation', () => {
    expect(revisionSettings().aggregation).toBe('linear');
    expect(
      revisionSettings({ annotations: { 'metric-aggregation-algorithm': 'weightedExponential' } }).aggregation,
    ).toBe('weighted-exponential');
  });
});
