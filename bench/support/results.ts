// Where and how the benchmarks of this folder write what they measured: bench/results/<name>.json
// for machines, <name>.md for people, <name>.png when a picture helps.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

export const RESULTS_DIR = new URL('../results/', import.meta.url);

export function resultFile(name: string): URL {
  mkdirSync(RESULTS_DIR, { recursive: true });
  return new URL(name, RESULTS_DIR);
}

export function writeResults(name: string, results: unknown, markdown: string): void {
  writeFileSync(resultFile(`${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(resultFile(`${name}.md`), `${markdown.trimEnd()}\n`);
}

export interface Machine {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadAverage1m: number;
}

export function machine(): Machine {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpus: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    loadAverage1m: loadavg()[0]!,
  };
}

/** A results file parsed, or undefined when that benchmark has not written one. */
export function readResults(name: string): unknown {
  try {
    return JSON.parse(readFileSync(new URL(name, RESULTS_DIR), 'utf8'));
  } catch {
    return undefined;
  }
}

/** A markdown table from a header row and data rows; numeric-looking columns align right. */
export function markdownTable(
  header: string[],
  rows: Array<Array<string | number>>,
  rightAligned: boolean[] = header.map((_, i) => i > 0),
): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${rightAligned.map((right) => (right ? '---:' : '---')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}
