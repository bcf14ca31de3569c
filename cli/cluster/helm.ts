// The chart as a user meets it: packaged with the image it runs written into its values, pushed to
// an OCI registry, installed from there by helm. helm is the user's (from PATH) when they have
// one; only without it, and with Go at hand, is the pinned version built (hack/build-tool.sh).
import { execFile } from 'node:child_process';
import { accessSync, constants, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { ensureTool } from './binaries.ts';
import { SYSTEM_NAMESPACE } from './operator.ts';
import { repoRoot } from './paths.ts';

const run = promisify(execFile);

export const CHART_DIR = join(repoRoot, 'charts', 'pilotlight');
export const CHART_NAME = 'pilotlight';

/** The first executable called name on PATH. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  return undefined;
}

/** helm from PATH, else the pinned one built through the Go module proxy. */
export async function findHelm(): Promise<string> {
  const helm = onPath('helm');
  if (helm) return helm;
  if (!onPath('go'))
    throw new Error(
      'needs helm 3: there is none on PATH, and no Go to build the pinned one (hack/build-tool.sh helm); ' +
        'install helm (https://helm.sh/docs/intro/install/) and try again',
    );
  return ensureTool('helm');
}

async function helmRun(helm: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    return (await run(helm, args, { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`helm ${args.slice(0, 2).join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}

/** A short digest of the chart's files, so a changed template gives a new chart version. */
export function chartDigest(): string {
  const hash = createHash('sha256');
  const files = readdirSync(CHART_DIR, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) hash.update(file.slice(CHART_DIR.length)).update(readFileSync(file));
  return hash.digest('hex').slice(0, 12);
}

/**
 * Packages the chart as version (its appVersion too) with image.repository and image.tag set to
 * the image it runs, so `helm install` needs no --set for them; returns the .tgz path.
 */
export async function packageChart(
  helm: string,
  options: { version: string; repository: string; tag: string; outDir: string },
): Promise<string> {
  const copy = mkdtempSync(join(tmpdir(), 'pilotlight-chart-'));
  try {
    const chart = join(copy, CHART_NAME);
    cpSync(CHART_DIR, chart, { recursive: true });
    const values = parseDocument(readFileSync(join(chart, 'values.yaml'), 'utf8'));
    values.setIn(['image', 'repository'], options.repository);
    values.setIn(['image', 'tag'], options.tag);
    writeFileSync(join(chart, 'values.yaml'), values.toString());
    await helmRun(helm, [
      'package',
      chart,
      '--version',
      options.version,
      '--app-version',
      options.version,
      '--destination',
      options.outDir,
    ]);
    return join(options.outDir, `${CHART_NAME}-${options.version}.tgz`);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * `helm push` to oci://registry/charts; caFile for a registry whose certificate a private CA
 * signed; registryConfig, a docker config.json with the login, for a registry that wants one
 * (written to a private file for the push alone: helm's own config is left as it is).
 */
export async function pushChart(
  helm: string,
  archive: string,
  registry: string,
  caFile: string | undefined,
  registryConfig?: string,
): Promise<string> {
  const dir = registryConfig === undefined ? undefined : mkdtempSync(join(tmpdir(), 'pilotlight-helm-login-'));
  try {
    const configFile = dir && join(dir, 'config.json');
    if (configFile) writeFileSync(configFile, registryConfig!, { mode: 0o600 });
    await helmRun(helm, [
      'push',
      archive,
      `oci://${registry}/charts`,
      ...(caFile ? ['--ca-file', caFile] : []),
      ...(configFile ? ['--registry-config', configFile] : []),
    ]);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return `oci://${registry}/charts/${CHART_NAME}`;
}

export interface Install {
  /** A chart directory or an oci:// reference. */
  chart: string;
  version?: string;
  values: Record<string, string>;
  kubeconfig?: string;
  context?: string;
  caFile?: string;
  /** Hold until every pod is ready (helm --wait). */
  wait: boolean;
  /** Adopt objects an older chart left outside the release (helm >= 3.17). */
  takeOwnership?: boolean;
}

/** The `helm upgrade --install` command line of install, as a user would type it. */
export function installArgs(install: Install): string[] {
  return [
    'upgrade',
    '--install',
    CHART_NAME,
    install.chart,
    ...(install.version ? ['--version', install.version] : []),
    '--namespace',
    SYSTEM_NAMESPACE,
    '--create-namespace',
    ...Object.entries(install.values).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
    ...(install.context ? ['--kube-context', install.context] : []),
    ...(install.caFile ? ['--ca-file', install.caFile] : []),
    ...(install.takeOwnership ? ['--take-ownership'] : []),
    ...(install.wait ? ['--wait', '--timeout', '300s'] : []),
  ];
}

/** Installs or upgrades the chart into SYSTEM_NAMESPACE. */
export async function installChart(helm: string, install: Install): Promise<void> {
  await helmRun(helm, installArgs(install), install.kubeconfig ? { KUBECONFIG: install.kubeconfig } : {});
}
