// Publishing a build: the operator image (and the sample apps') pushed to a registry under one
// version, and the chart, pointing at that image, pushed beside them as an OCI artifact. The
// local cluster's `up` and `pilotlight image push --to REGISTRY` both come through here.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART_NAME, chartDigest, packageChart, pushChart } from '../cluster/helm.ts';
import { repoRoot } from '../cluster/paths.ts';
import { authenticatingClient, createRegistryClient, type RegistryCredentials } from '../../lib/oci/client.ts';
import { type Log, step } from '../progress.ts';
import { SAMPLE_APPS, SAMPLE_TAG, buildOperatorImage, buildSampleImage, sampleImage } from './build.ts';
import { dockerConfigOf, dockerCredentials } from './credentials.ts';
import { pushOciArchive } from './push.ts';

export interface Published {
  /** The operator image, by tag. */
  image: string;
  /** The chart's OCI reference (oci://REGISTRY/charts/pilotlight) and version. */
  chart: string;
  version: string;
}

export interface PublishOptions {
  /** host[:port][/path] the images and chart go under. */
  registry: string;
  /** The chart version and image tag; by default the package version plus a digest of the build. */
  version?: string;
  /** PEM file of the CA that signed the registry's certificate, when a private one did. */
  caFile?: string;
  /** The login to registry; without it, the docker config's, else anonymous. */
  credentials?: RegistryCredentials;
  samples: boolean;
  helm: string;
  outDir: string;
  log: Log;
}

const packageVersion = () =>
  (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** `0.1.0-dev-<digest>`: a semver pre-release unique to this image and chart, so no push overwrites another build. */
export function devVersion(imageTag: string, chart: string): string {
  const digest = createHash('sha256').update(`${imageTag}\n${chart}`).digest('hex').slice(0, 12);
  return `${packageVersion()}-dev-${digest}`;
}

export async function publish(options: PublishOptions): Promise<Published> {
  const { registry, log } = options;
  mkdirSync(options.outDir, { recursive: true });
  const host = registry.split('/')[0]!;
  // Asked only when a registry refuses a request: an open registry needs no docker config. The
  // login the image pushes needed is the chart push's too.
  let login: RegistryCredentials | undefined;
  const credentialsFor = (of: string) => {
    const found = (of === host && options.credentials) || dockerCredentials(of);
    if (of === host) login = found;
    return found;
  };
  const client = authenticatingClient(
    createRegistryClient(options.caFile ? [readFileSync(options.caFile, 'utf8')] : []),
    credentialsFor,
  );
  const built = await step(log, 'building the operator image', () => buildOperatorImage(options.outDir));
  const version = options.version ?? devVersion(built.name.split(':').at(-1)!, chartDigest());
  const repository = `${registry}/pilotlight/pilotlight`;
  const image = `${repository}:${version}`;
  await step(log, `pushing ${image}`, () => pushOciArchive(client, built.archive, image));
  if (options.samples) {
    for (const app of SAMPLE_APPS) {
      const sample = await buildSampleImage(app, options.outDir);
      const reference = `${registry}/pilotlight/${app}:${version}`;
      await step(log, `pushing ${reference} and ${sampleImage(app, registry)}`, () =>
        pushOciArchive(client, sample.archive, reference, [SAMPLE_TAG]),
      );
    }
  }
  const chart = await step(log, `pushing the chart ${CHART_NAME} ${version}`, async () => {
    const archive = await packageChart(options.helm, { version, repository, tag: version, outDir: options.outDir });
    return pushChart(options.helm, archive, registry, options.caFile, login && dockerConfigOf(host, login));
  });
  return { image, chart, version };
}
