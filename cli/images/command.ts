// `pilotlight image push --to REGISTRY`: builds the images and the chart of this checkout and
// publishes them, ready for `helm install pilotlight oci://REGISTRY/charts/pilotlight`.
// `image build` and `image chart` make the same artifacts for other tools to push (the release
// workflow's multi-arch index).
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCommand } from '../args.ts';
import { findHelm, packageChart } from '../cluster/helm.ts';
import { cacheRoot } from '../cluster/paths.ts';
import { step } from '../progress.ts';
import { SAMPLE_APPS, buildOperatorImage, buildSampleImage } from './build.ts';
import { publish } from './publish.ts';

const say = (line: string) => console.log(`[pilotlight] ${line}`);
/** Progress of `image build`, whose stdout is only its result: one `archive<TAB>image` line per image. */
const note = (line: string) => console.error(`[pilotlight] ${line}`);

const PUSH = {
  usage:
    'pilotlight image push --to REGISTRY [--version VERSION] [--ca-file FILE] [--username USER --password-stdin] [--no-samples]',
  summary: [
    "Builds the operator image and the sample apps' (no Docker needed) and pushes them to",
    'REGISTRY/pilotlight/<name>:VERSION (the sample apps also as :latest), then pushes the chart,',
    'set to run that image, to oci://REGISTRY/charts/pilotlight. A registry that wants a login gets',
    "--username's with the password read from stdin, else the one docker's config.json holds",
    '($DOCKER_CONFIG or ~/.docker: `docker login`, `crane auth login`, credential helpers).',
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
    username: { type: 'string', value: 'USER', description: 'log in to the registry as USER (with --password-stdin)' },
    'password-stdin': { type: 'boolean', description: "read --username's password (or token) from stdin" },
    'no-samples': { type: 'boolean', description: "push only the operator image and the chart, not the sample apps'" },
  },
} as const;

const BUILD = {
  usage: 'pilotlight image build [--out DIR]',
  summary: [
    "Builds the operator image and the sample apps' as OCI image-layout archives for this machine's",
    'architecture, for a tool of your choice to push (crane push, skopeo copy oci-archive:...).',
  ].join('\n'),
  options: {
    out: {
      type: 'string',
      value: 'DIR',
      default: join(cacheRoot, 'images', 'out'),
      description: 'where the archives go',
    },
  },
} as const;

const CHART = {
  usage: 'pilotlight image chart --repository REPOSITORY --version VERSION [--out DIR]',
  summary: ['Packages the chart as VERSION, set to run REPOSITORY:VERSION, for `helm push` to any OCI registry.'].join(
    '\n',
  ),
  options: {
    repository: {
      type: 'string',
      value: 'REPOSITORY',
      description: 'the operator image without tag, e.g. ghcr.io/acme/pilotlight',
    },
    version: { type: 'string', value: 'VERSION', description: 'chart version, appVersion and image tag (semver)' },
    out: { type: 'string', value: 'DIR', default: '.', description: 'where the .tgz goes' },
  },
} as const;

const SUBCOMMANDS = ['push', 'build', 'chart'];

function semver(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(value))
    throw new Error(`--${flag}: ${value} is not a semantic version such as 1.2.3 or 1.2.3-rc.1`);
  return value;
}

/** --username with --password-stdin, as `docker login` takes them: the password never on the command line. */
async function loginOf(username: string | undefined, passwordStdin: boolean | undefined) {
  if (username === undefined && !passwordStdin) return undefined;
  if (!username || !passwordStdin)
    throw new Error('--username and --password-stdin go together: the password is read from stdin');
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const password = input.replace(/\r?\n$/, '');
  if (!password) throw new Error('--password-stdin: stdin held no password');
  return { username, password };
}

export async function main(argv: string[]): Promise<void> {
  const [subcommand, ...rest] = argv;
  if (!subcommand || !SUBCOMMANDS.includes(subcommand)) {
    console.log(
      [PUSH.usage, BUILD.usage, CHART.usage].map((u) => `usage: ${u}`).join('\n') +
        '\n       pilotlight image <push|build|chart> --help',
    );
    if (subcommand !== '--help' && subcommand !== '-h') process.exitCode = 2;
    return;
  }
  if (subcommand === 'build') {
    const values = parseCommand(rest, BUILD);
    if (!values) return;
    mkdirSync(values.out, { recursive: true });
    const images = [await step(note, 'building the operator image', () => buildOperatorImage(values.out))];
    for (const app of SAMPLE_APPS) images.push(await buildSampleImage(app, values.out));
    for (const image of images) console.log(`${image.archive}\t${image.name}`);
    return;
  }
  if (subcommand === 'chart') {
    const values = parseCommand(rest, CHART);
    if (!values) return;
    const version = semver('version', values.version);
    if (!values.repository || !version) throw new Error('--repository and --version are both required');
    mkdirSync(values.out, { recursive: true });
    const archive = await packageChart(await findHelm(), {
      version,
      repository: values.repository,
      tag: version,
      outDir: resolve(values.out),
    });
    console.log(archive);
    return;
  }
  const values = parseCommand(rest, PUSH);
  if (!values) return;
  const registry = values.to?.replace(/\/+$/, '');
  if (!registry || registry.includes('://'))
    throw new Error('--to: name the registry as host[:port][/path], without a scheme (e.g. ghcr.io/acme)');
  const published = await publish({
    registry,
    version: semver('version', values.version),
    caFile: values['ca-file'],
    credentials: await loginOf(values.username, values['password-stdin']),
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
