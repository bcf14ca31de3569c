// The real helm on charts/pilotlight: render it with values, or run any helm command, for the
// chart's tests.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const CHART = join(import.meta.dirname, '..', '..', 'charts', 'pilotlight');

const run = promisify(execFile);

export interface HelmResult {
  stdout: string;
  stderr: string;
}

/** Runs helm; rejects with its stderr on a non-zero exit. */
export function helmRun(helm: string, args: string[], env: Record<string, string> = {}): Promise<HelmResult> {
  return run(helm, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
}

/** A rendered object, loosely typed: tests read whatever field they check. */
export interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: any;
}

/** `helm template` of the chart in knative-serving with image.tag=test and these flags (--set …). */
export async function renderChart(helm: string, ...flags: string[]): Promise<Rendered[]> {
  const { stdout } = await helmRun(helm, [
    'template',
    'pilotlight',
    CHART,
    '--namespace',
    'knative-serving',
    '--set',
    'image.tag=test',
    ...flags,
  ]);
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as Rendered | null)
    .filter((object): object is Rendered => object !== null);
}

/** The one rendered object of this kind and name; throws naming it when there is none. */
export function findRendered(objects: Rendered[], kind: string, name: string): Rendered {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`the chart renders no ${kind} ${name}`);
  return found;
}
