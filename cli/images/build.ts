// Assembles pilotlight's images as OCI archives, for cli/images/push.ts to push to a registry:
// one Node 24 runtime layer shared by all, plus a layer with the project (the operator image,
// every component chosen by subcommand) or with a sample app.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { IMAGE_CLI, IMAGE_NODE } from '../../lib/image.ts';
import { REGISTRY_HOST } from '../cluster/node.ts';
import { cacheRoot, repoRoot } from '../cluster/paths.ts';
import { BUNDLED_COMPONENTS, bundleComponent } from './bundle.ts';
import { compileTree } from './compile.ts';
import { writeOciImage } from './oci.ts';

const run = promisify(execFile);

/** Folders of the project that run in a container; tests, benchmarks and hack/ stay out. */
const APP_FOLDERS = [
  'cli',
  'controllers',
  'lib',
  'activator',
  'autoscaler',
  'queue-proxy',
  'gateway',
  'crds',
  'hack/versions.ts',
];

export interface BuiltImage {
  name: string;
  archive: string;
}

const short = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** node and the shared libraries it links, at their host paths. */
async function runtimeLayer(): Promise<string> {
  const node = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
  const { stdout: version } = await run(node, ['--version']);
  const dir = join(cacheRoot, 'images', `runtime-node-${version.trim()}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'usr', 'local', 'bin'), { recursive: true });
  copyFileSync(node, join(dir, 'usr', 'local', 'bin', 'node'));
  const { stdout: ldd } = await run('ldd', [node]);
  for (const lib of ldd.match(/\/\S+/g) ?? []) {
    mkdirSync(join(dir, dirname(lib)), { recursive: true });
    // copyFileSync follows the symlinks that name most shared libraries.
    copyFileSync(lib, join(dir, lib));
  }
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o1777 });
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) {
    mkdirSync(join(dir, 'etc', 'ssl', 'certs'), { recursive: true });
    copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(dir, 'etc', 'ssl', 'certs', 'ca-certificates.crt'));
  }
  writeFileSync(join(dir, '.complete'), '');
  return dir;
}

/**
 * What packages ship for editors and readers, never loaded at run time: type declarations, the
 * TypeScript sources some ship beside their JavaScript (Node.js strips no types under
 * node_modules), source maps and documents other than licences. A third of the production
 * node_modules.
 */
const NOT_RUN = /\.(d\.)?[mc]?ts$|\.map$|(?<!LICEN[CS]E)\.md$/i;

/** Production dependencies, installed once per lockfile. */
async function dependencies(): Promise<string> {
  const lock = readFileSync(join(repoRoot, 'package-lock.json'), 'utf8');
  const dir = join(cacheRoot, 'images', `deps-${short(lock)}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  writeFileSync(join(dir, 'package-lock.json'), lock);
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  });
  writeFileSync(join(dir, '.complete'), '');
  return dir;
}

export async function buildOperatorImage(outDir: string): Promise<BuiltImage> {
  const app = join(outDir, 'operator-app');
  rmSync(app, { recursive: true, force: true });
  // Components run from JavaScript compiled ahead of time, so no process strips types at run time
  // (bench/queue-proxy.ts: the sidecar's idle RSS drops from about 90 to 53 MiB).
  const compiled = join(cacheRoot, 'images', 'compiled');
  compileTree(repoRoot, [...APP_FOLDERS, 'package.json'], compiled);
  cpSync(compiled, join(app, 'app'), { recursive: true, filter: (source) => !source.endsWith('.compile-key') });
  for (const component of BUNDLED_COMPONENTS) await bundleComponent(join(app, 'app'), component);
  cpSync(join(await dependencies(), 'node_modules'), join(app, 'app', 'node_modules'), {
    recursive: true,
    filter: (source) => !NOT_RUN.test(source),
  });
  const { stdout: tree } = await run(
    'sh',
    ['-c', `cd ${app} && find . -type f -print0 | sort -z | xargs -0 sha256sum`],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  const name = `dev.local/pilotlight/pilotlight:${short(tree)}`;
  const archive = join(outDir, 'pilotlight.tar');
  await writeOciImage(
    {
      name,
      layers: [await runtimeLayer(), app],
      config: { entrypoint: [IMAGE_NODE, IMAGE_CLI], workingDir: '/app', user: '65532' },
    },
    archive,
  );
  return { name, archive };
}

/** The Knative sample apps (samples/apps/<app>.ts) as images of our own, so the samples run offline. */
export const SAMPLE_APPS = ['helloworld', 'autoscale', 'websocket'] as const;
export type SampleApp = (typeof SAMPLE_APPS)[number];
/** The tag a sample app is pushed under besides the build's version: the one samples/*.yaml name, as Knative's do. */
export const SAMPLE_TAG = 'latest';
/** A sample app's image as a user writes it: in registry (by default the local cluster's), by tag. */
export const sampleImage = (app: SampleApp, registry = REGISTRY_HOST) => `${registry}/pilotlight/${app}:${SAMPLE_TAG}`;
export const HELLOWORLD_IMAGE = sampleImage('helloworld');

export async function buildSampleImage(app: SampleApp, outDir: string): Promise<BuiltImage> {
  const root = join(outDir, `${app}-app`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'app'), { recursive: true });
  copyFileSync(join(repoRoot, 'samples', 'apps', `${app}.ts`), join(root, 'app', `${app}.ts`));
  const archive = join(outDir, `${app}.tar`);
  const name = sampleImage(app);
  await writeOciImage(
    {
      name,
      layers: [await runtimeLayer(), root],
      config: { entrypoint: [IMAGE_NODE, `/app/${app}.ts`], user: '65532', exposedPorts: [8080] },
    },
    archive,
  );
  return { name, archive };
}
