import { describe, expect, it } from 'vitest';
import { renderSvg } from '../../../bench/support/plot.ts';
import { axisEnd, stackedBarSvg } from '../../../bench/support/stackedBar.ts';

describe('axisEnd', () => {
  it('rounds the largest total up to a round multiple of a power of ten', () => {
    expect(axisEnd([430, 1210])).toBe(2000);
    expect(axisEnd([2267])).toBe(2500);
    expect(axisEnd([480])).toBe(500);
    expect(axisEnd([7100])).toBe(8000);
    expect(axisEnd([100])).toBe(100);
    expect(axisEnd([0])).toBe(1);
  });
});

describe('stackedBarSvg', () => {
  const chart = {
    title: 'Cold start',
    unit: 'ms',
    segments: [
      { name: 'scheduling', color: '#ff0000' },
      { name: 'sandbox & <CNI>', color: '#0000ff' },
    ],
    rows: [{ name: 'median', values: [100, 300] }],
  };

  it('draws one rectangle per segment of a row, each as wide as its share of the axis, with its total', () => {
    const svg = stackedBarSvg(chart);
    const widths = [
      ...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="24" fill="(#[0-9a-f]+)"/g),
    ].map((m) => [m[2], Number(m[1])] as const);
    expect(widths.map(([color]) => color)).toEqual(['#ff0000', '#0000ff']);
    expect(widths[1]![1] / widths[0]![1]).toBeCloseTo(3, 5);
    expect(svg).toContain('>400</text>');
    expect(svg).toContain('sandbox &amp; &lt;CNI&gt;');
  });

  it('renders to a PNG', () => {
    const raster = renderSvg(stackedBarSvg(chart));
    expect(raster.png.subarray(1, 4).toString()).toBe('PNG');
    expect(raster.width).toBe(900);
  });
});
