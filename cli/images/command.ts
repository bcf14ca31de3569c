// `pilotlight image push --to REGISTRY`: builds the images and the chart of this checkout and
// publishes them, ready for `helm install pilotlight oci://REGISTRY/charts/pilotlight`.
import { join } from 'node:path';
import { parseCommand } from '../args.ts';
import { findHelm } from '../cluster/helm.ts';
import { cacheRoot } from '../cluster/paths.ts';
import { publish } from './publish.ts';

const say = (line: string) => console.log(`[pilotlight] ${line}`);

const PUSH = {
  usage: 'pilotlight image push --to REGISTRY [--version VERSION] [--ca-file FILE] [--no-samples]',
  summary: [
    "Builds the operator image and the sample apps' (no Docker needed) and pushes them to",
    'REGISTRY/pilotlight/<name>:VERSION, then pushes the chart, set to run that image, to',
    'oci://REGISTRY/charts/pilotlight. The pushes are anonymous: for a registry that needs a login,',
    'see "Install on your cluster" in README.md.',
  ].join('\n'),
  options: {
    to: {
      type: 'string',
      value: 'REGISTRY',
      description: 'the registry and optional path, e.g. registry.example.com/team',
    },
    version: {
      type: 'string',
      value: 'VERSION',
      description: 'chart version and image tag (semver); default: package version + -dev-<digest of the build>',
    },
    'ca-file': {
      type: 'string',
      value: 'FILE',
      description: "PEM of the CA of the registry's certificate, if private",
    },
    'no-samples': { type: 'boolean', description: "push only the operator image and the chart, not the sample apps'" },
  },
} as const;

export async function main(argv: string[]): Promise<void> {
  const [subcommand, ...rest] = argv;
  if (subcommand !== 'push') {
    console.log(`usage: ${PUSH.usage}\n       pilotlight image push --help`);
    if (subcommand !== '--help' && subcommand !== '-h') process.exitCode = 2;
    return;
  }
  const values = parseCommand(rest, PUSH);
  if (!values) return;
  const registry = values.to?.replace(/\/+$/, '');
  if (!registry || registry.includes('://'))
    throw new Error('--to: name the registry as host[:port][/path], without a scheme (e.g. ghcr.io/acme)');
  if (values.version !== undefined && !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(values.version))
    throw new Error(`--version: ${values.version} is not a semantic version such as 1.2.3 or 1.2.3-rc.1`);
  const published = await publish({
    registry,
    version: values.version,
    caFile: values['ca-file'],
    samples: !values['no-samples'],
    helm: await findHelm(),
    outDir: join(cacheRoot, 'images', 'push'),
    log: say,
  });
  console.log(`
Published ${published.image} and the chart ${published.chart} ${published.version}.
Install it on a cluster that can pull from ${registry}:
  helm install pilotlight ${published.chart} --version ${published.version} --namespace knative-serving --create-namespace`);
}
