import { describe, expect, it } from 'vitest';
import {
  figureSvg,
  linearScale,
  panelDomains,
  plotArea,
  renderFigure,
  toPixel,
  type Figure,
} from '../../../bench/support/plot.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pixel(raster: { width: number; rgba: Buffer }, x: number, y: number): [number, number, number] {
  const at = (Math.round(y) * raster.width + Math.round(x)) * 4;
  return [raster.rgba[at]!, raster.rgba[at + 1]!, raster.rgba[at + 2]!];
}

describe('linearScale', () => {
  it('maps the domain ends onto the range ends and keeps proportions, inverted ranges included', () => {
    const y = linearScale([0, 200], [300, 100]);
    expect([y(0), y(200), y(50)]).toEqual([300, 100, 250]);
  });

  it('puts every value of an empty domain in the middle of the range', () => {
    expect(linearScale([5, 5], [0, 10])(123)).toBe(5);
  });
});

describe('panelDomains', () => {
  it('starts positive data at zero and rounds the top up to a tick step', () => {
    const domains = panelDomains({
      title: '',
      xLabel: '',
      yLabel: '',
      series: [
        {
          name: 'a',
          color: '#000',
          points: [
            [3, 7],
            [47, 93],
          ],
        },
      ],
    });
    expect(domains).toEqual({ x: [0, 50], y: [0, 100] });
  });

  it('fits y to the data when asked not to start at zero', () => {
    const domains = panelDomains({
      title: '',
      xLabel: '',
      yLabel: '',
      yFromZero: false,
      series: [
        {
          name: 'a',
          color: '#000',
          points: [
            [0, 101],
            [1, 139],
          ],
        },
      ],
    });
    expect(domains.y).toEqual([100, 140]);
  });
});

describe('renderFigure', () => {
  // Two panels, so the second panel's offset is exercised too; markers make the points findable.
  const figure: Figure = {
    width: 640,
    panelHeight: 300,
    panels: [
      {
        title: 'top',
        xLabel: 'x',
        yLabel: 'y',
        x: [0, 10],
        y: [0, 100],
        series: [
          {
            name: 'red',
            color: '#ff0000',
            markers: true,
            points: [
              [2, 20],
              [8, 90],
            ],
          },
        ],
      },
      {
        title: 'bottom',
        xLabel: 'x',
        yLabel: 'y',
        x: [0, 10],
        y: [0, 1],
        series: [{ name: 'blue', color: '#0000ff', markers: true, points: [[5, 0.5]] }],
      },
    ],
  };
  const raster = renderFigure(figure);

  it('draws a markers-only series as points without a line', () => {
    const svg = figureSvg({
      panels: [
        {
          title: 'events',
          xLabel: 'x',
          yLabel: 'y',
          series: [
            {
              name: 'decisions',
              color: '#00ff00',
              markersOnly: true,
              points: [
                [1, 1],
                [2, 3],
              ],
            },
          ],
        },
      ],
    });
    expect(svg).not.toContain('polyline');
    // Two points and the legend's.
    expect(svg.match(/<circle [^>]*fill="#00ff00"/g)).toHaveLength(3);
  });

  it('writes a PNG of the figure size', () => {
    expect(raster.png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(raster.png.subarray(12, 16).toString('latin1')).toBe('IHDR');
    expect([raster.png.readUInt32BE(16), raster.png.readUInt32BE(20)]).toEqual([640, 600]);
    expect([raster.width, raster.height]).toEqual([640, 600]);
  });

  it('draws each point where the axes say it is', () => {
    const area = plotArea(figure, 0);
    expect(toPixel(figure, 0, [0, 0])).toEqual([area.left, area.top + area.height]);
    expect(toPixel(figure, 0, [10, 100])).toEqual([area.left + area.width, area.top]);
    expect(pixel(raster, ...toPixel(figure, 0, [2, 20]))).toEqual([255, 0, 0]);
    expect(pixel(raster, ...toPixel(figure, 0, [8, 90]))).toEqual([255, 0, 0]);
    expect(pixel(raster, ...toPixel(figure, 1, [5, 0.5]))).toEqual([0, 0, 255]);
    // Off the line and the grid, the panel stays background.
    expect(pixel(raster, ...toPixel(figure, 0, [7, 30]))).toEqual([255, 255, 255]);
  });
});
