// Line charts for benchmark results: an SVG built here, rasterised to PNG by resvg with the DejaVu
// fonts Debian ships, so a plot looks the same on every machine that runs the benchmarks. A figure
// is one or more panels stacked vertically, sharing nothing but the width.
import { writeFileSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';

export interface Series {
  name: string;
  points: Array<readonly [x: number, y: number]>;
  color: string;
  /** Draws a marker on every point, for series with few points. */
  markers?: boolean;
  /** Markers and no line: points that are events, not a curve. */
  markersOnly?: boolean;
  dashed?: boolean;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Axis ranges; each defaults to the data's range, y from 0 when all values are positive. */
  x?: readonly [number, number];
  y?: readonly [number, number];
  /** false: the default y range fits the data even when it is far from 0. */
  yFromZero?: boolean;
}

export interface Figure {
  panels: Panel[];
  width?: number;
  panelHeight?: number;
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A colour per series that stays apart on white and in print. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'] as const;

const FONT_DIR = '/usr/share/fonts/truetype/dejavu';
export const FONT = 'DejaVu Sans';
const DEFAULT_WIDTH = 900;
const DEFAULT_PANEL_HEIGHT = 360;
const MARGIN = { left: 78, right: 190, top: 36, bottom: 52 };
const TICKS = 6;

/** Maps [d0, d1] onto [r0, r1] linearly; a zero-width domain maps everything to the middle. */
export function linearScale(
  domain: readonly [number, number],
  range: readonly [number, number],
): (value: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  if (d1 === d0) return () => (r0 + r1) / 2;
  return (value) => r0 + ((value - d0) / (d1 - d0)) * (r1 - r0);
}

/** Where panel `index` of a figure draws its data, in pixels from the figure's top left corner. */
export function plotArea(figure: Figure, index: number): Rect {
  const width = figure.width ?? DEFAULT_WIDTH;
  const panelHeight = figure.panelHeight ?? DEFAULT_PANEL_HEIGHT;
  return {
    left: MARGIN.left,
    top: index * panelHeight + MARGIN.top,
    width: width - MARGIN.left - MARGIN.right,
    height: panelHeight - MARGIN.top - MARGIN.bottom,
  };
}

/** The axis ranges a panel is drawn with: its own, or the data's rounded out to tick steps. */
export function panelDomains(panel: Panel): { x: readonly [number, number]; y: readonly [number, number] } {
  const points = panel.series.flatMap((s) => s.points);
  const extent = (values: number[]): [number, number] =>
    values.length === 0 ? [0, 1] : [Math.min(...values), Math.max(...values)];
  const [x0, x1] = extent(points.map(([x]) => x));
  const [y0, y1] = extent(points.map(([, y]) => y));
  const yRange: [number, number] = y0 >= 0 && panel.yFromZero !== false ? [0, y1 === 0 ? 1 : y1] : [y0, y1];
  return { x: panel.x ?? niceRange([x0, x1]), y: panel.y ?? niceRange(yRange) };
}

/** Pixel coordinates of a data point of panel `index`. */
export function toPixel(figure: Figure, index: number, point: readonly [number, number]): [number, number] {
  const area = plotArea(figure, index);
  const domains = panelDomains(figure.panels[index]!);
  const x = linearScale(domains.x, [area.left, area.left + area.width]);
  const y = linearScale(domains.y, [area.top + area.height, area.top]);
  return [x(point[0]), y(point[1])];
}

function tickStep(span: number): number {
  const raw = span / TICKS;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  return step;
}

function niceRange([lo, hi]: readonly [number, number]): [number, number] {
  if (hi === lo) return [lo - 1, hi + 1];
  const step = tickStep(hi - lo);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

function ticks([lo, hi]: readonly [number, number]): number[] {
  const step = tickStep(hi - lo);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const label = (value: number) => (Math.abs(value) >= 10_000 ? `${value / 1000}k` : String(value));

function panelSvg(figure: Figure, index: number): string {
  const panel = figure.panels[index]!;
  const area = plotArea(figure, index);
  const domains = panelDomains(panel);
  const x = linearScale(domains.x, [area.left, area.left + area.width]);
  const y = linearScale(domains.y, [area.top + area.height, area.top]);
  const bottom = area.top + area.height;
  const parts: string[] = [
    `<text x="${area.left}" y="${area.top - 14}" font-size="15" font-weight="bold">${escapeXml(panel.title)}</text>`,
    `<rect x="${area.left}" y="${area.top}" width="${area.width}" height="${area.height}" fill="none" stroke="#444"/>`,
  ];
  for (const t of ticks(domains.x)) {
    parts.push(
      `<line x1="${x(t)}" y1="${area.top}" x2="${x(t)}" y2="${bottom}" stroke="#e4e4e4"/>`,
      `<text x="${x(t)}" y="${bottom + 16}" font-size="11" text-anchor="middle">${label(t)}</text>`,
    );
  }
  for (const t of ticks(domains.y)) {
    parts.push(
      `<line x1="${area.left}" y1="${y(t)}" x2="${area.left + area.width}" y2="${y(t)}" stroke="#e4e4e4"/>`,
      `<text x="${area.left - 6}" y="${y(t) + 4}" font-size="11" text-anchor="end">${label(t)}</text>`,
    );
  }
  parts.push(
    `<text x="${area.left + area.width / 2}" y="${bottom + 38}" font-size="12" text-anchor="middle">${escapeXml(panel.xLabel)}</text>`,
    `<text x="${area.left - 56}" y="${area.top + area.height / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 ${area.left - 56} ${area.top + area.height / 2})">${escapeXml(panel.yLabel)}</text>`,
    `<clipPath id="clip${index}"><rect x="${area.left}" y="${area.top}" width="${area.width}" height="${area.height}"/></clipPath>`,
  );
  panel.series.forEach((series, i) => {
    const path = series.points.map(([px, py]) => `${x(px).toFixed(2)},${y(py).toFixed(2)}`).join(' ');
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<g clip-path="url(#clip${index})">`);
    if (!series.markersOnly)
      parts.push(`<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`);
    if (series.markers || series.markersOnly)
      for (const [px, py] of series.points)
        parts.push(`<circle cx="${x(px)}" cy="${y(py)}" r="3.5" fill="${series.color}"/>`);
    parts.push('</g>');
    const legendY = area.top + 10 + i * 20;
    const legendX = area.left + area.width + 14;
    parts.push(
      series.markersOnly
        ? `<circle cx="${legendX + 11}" cy="${legendY}" r="4" fill="${series.color}"/>`
        : `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 22}" y2="${legendY}" stroke="${series.color}" stroke-width="3"${dash}/>`,
      `<text x="${legendX + 28}" y="${legendY + 4}" font-size="12">${escapeXml(series.name)}</text>`,
    );
  });
  return parts.join('\n');
}

export function figureSvg(figure: Figure): string {
  const width = figure.width ?? DEFAULT_WIDTH;
  const height = (figure.panelHeight ?? DEFAULT_PANEL_HEIGHT) * figure.panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...figure.panels.map((_, i) => panelSvg(figure, i)),
    '</svg>',
  ].join('\n');
}

export interface Raster {
  width: number;
  height: number;
  png: Buffer;
  rgba: Buffer;
}

/** Any SVG of these plots, rasterised with the fonts they are drawn in. */
export function renderSvg(svg: string): Raster {
  const image = new Resvg(svg, {
    font: { loadSystemFonts: false, fontDirs: [FONT_DIR], defaultFontFamily: FONT },
  }).render();
  return { width: image.width, height: image.height, png: image.asPng(), rgba: image.pixels };
}

export function renderFigure(figure: Figure): Raster {
  return renderSvg(figureSvg(figure));
}

export function writeFigurePng(path: string | URL, figure: Figure): void {
  writeFileSync(path, renderFigure(figure).png);
}
