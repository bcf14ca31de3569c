// Horizontal stacked bars: one bar per row, its segments side by side along a shared axis, each
// segment a named part of the row's total (the phases of a cold start). Drawn as SVG in the fonts
// of plot.ts, and rasterised by it.
import { escapeXml, FONT } from './plot.ts';

export interface StackedRow {
  name: string;
  /** Segment values in the order of the chart's segment names. */
  values: readonly number[];
}

export interface StackedBarChart {
  title: string;
  unit: string;
  /** Names of the segments, in stacking order, with their colours. */
  segments: readonly { name: string; color: string }[];
  rows: readonly StackedRow[];
  width?: number;
}

const ROW_HEIGHT = 34;
const LEGEND_LINE = 18;
const MARGIN = { left: 150, right: 30, top: 40, axis: 36 };

/** The axis's end: the largest row total rounded up to 1, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten. */
export function axisEnd(totals: readonly number[]): number {
  const max = Math.max(0, ...totals);
  if (max === 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * magnitude).find((end) => end >= max)!;
}

export function stackedBarSvg(chart: StackedBarChart): string {
  const width = chart.width ?? 900;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const totals = chart.rows.map((row) => row.values.reduce((sum, v) => sum + v, 0));
  const end = axisEnd(totals);
  const x = (value: number) => MARGIN.left + (value / end) * plotWidth;
  const barsBottom = MARGIN.top + chart.rows.length * ROW_HEIGHT;
  const legendTop = barsBottom + MARGIN.axis + 10;
  const legendRows = Math.ceil(chart.segments.length / 2);
  const height = legendTop + legendRows * LEGEND_LINE + 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="24" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const value = (end / 5) * i;
    parts.push(
      `<line x1="${x(value)}" y1="${MARGIN.top}" x2="${x(value)}" y2="${barsBottom}" stroke="#e4e4e4"/>`,
      `<text x="${x(value)}" y="${barsBottom + 16}" font-size="11" text-anchor="middle">${Number(value.toPrecision(6))}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${barsBottom + 32}" font-size="12" text-anchor="middle">${escapeXml(chart.unit)}</text>`,
  );
  chart.rows.forEach((row, r) => {
    const top = MARGIN.top + r * ROW_HEIGHT + 5;
    parts.push(
      `<text x="${MARGIN.left - 8}" y="${top + 17}" font-size="12" text-anchor="end">${escapeXml(row.name)}</text>`,
    );
    let at = 0;
    row.values.forEach((value, s) => {
      if (value <= 0) return;
      parts.push(
        `<rect x="${x(at).toFixed(2)}" y="${top}" width="${(x(at + value) - x(at)).toFixed(2)}" height="${ROW_HEIGHT - 10}" fill="${chart.segments[s]?.color ?? '#999'}" stroke="white" stroke-width="0.5"/>`,
      );
      at += value;
    });
    parts.push(`<text x="${x(at) + 4}" y="${top + 17}" font-size="11">${totals[r]!.toFixed(0)}</text>`);
  });
  chart.segments.forEach((segment, s) => {
    const left = s < legendRows ? 20 : width / 2;
    const top = legendTop + (s % legendRows) * LEGEND_LINE;
    parts.push(
      `<rect x="${left}" y="${top}" width="12" height="12" fill="${segment.color}"/>`,
      `<text x="${left + 18}" y="${top + 10}" font-size="11">${escapeXml(segment.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
