// Runs Knative's own conformance suites against pilotlight on the local cluster and writes
// results.md and results.json beside this file, test by test, on every run.
//
//   node test/conformance/run.ts [--suite api-v1 ...] [--keep-cluster] [--state-dir DIR] [--results DIR]
//                                [--only-known] [--from-logs]
//
// Steps: bring the local cluster up unless it runs (and take it down again at the end if this run
// started it), build the suites and their images from the Go module proxy (build.sh, cached
// outside the repo), push the images to the cluster's registry, apply what upstream's test/config gives the suites, publish
// the gateway on a nodePort the way the suites look for it, then run each test binary through
// `go tool test2json`. Exits non-zero when a test that is not in known-failures.ts fails.
// The caller holds /tmp/pilotlight-cluster.lock (hack/test-e2e.sh, `npm run test:conformance`).
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ensureBinaries } from '../../cli/cluster/binaries.ts';
import { runningControlPlane } from '../../cli/cluster/controlPlane.ts';
import { NODE_IP, REGISTRY_HOST } from '../../cli/cluster/node.ts';
import { SYSTEM_NAMESPACE, kubectl, type Kubectl } from '../../cli/cluster/operator.ts';
import { defaultStateDir, repoRoot } from '../../cli/cluster/paths.ts';
import { isRunning, recordedProcesses } from '../../cli/cluster/processes.ts';
import { PILOTLIGHT_INGRESS_CLASS } from '../../lib/config/network.ts';
import { IMAGE_MODULES, dockerRepo, packModuleImages, pushImages, type ImageModule } from './images.ts';
import { createRegistryClient } from '../../lib/oci/client.ts';
import { OUTSIDE_THE_PROJECT, PILOTLIGHT_BUGS, SUITES, skipPattern, type Suite } from './known-failures.ts';
import { suiteResult, writeResults, type SuiteResult } from './results.ts';

const run = promisify(execFile);
const here = import.meta.dirname;
const say = (line: string) => console.log(`[conformance ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** The suites' test namespaces, as upstream's test/config creates them. */
const TEST_NAMESPACE = 'serving-tests';
const ALT_TEST_NAMESPACE = 'serving-tests-alt';
/**
 * The chart's gateway Service, made type NodePort for the run. With --ingressendpoint set,
 * knative.dev/pkg's spoofing client reads the Service GATEWAY_OVERRIDE/GATEWAY_NAMESPACE_OVERRIDE
 * name and dials the endpoint at the nodePort of its port 80; the ingress suite finds the same
 * Service through the KIngress status (publicLoadBalancer.domainInternal) and does likewise, on
 * port 443's nodePort for https URLs. A
 * ClusterIP Service has no nodePort, so neither could reach the gateway.
 */
const GATEWAY_SERVICE = 'gateway';

/** Upstream's test/config/ytt/core overlays the suites depend on, and the ConfigMap each sets. */
const CONFIG_OVERLAYS = [['overlay-config-autocreate-clusterdomainclaims.yaml', 'config-network']] as const;

/** Per suite: which images it uses and how long it may run before its binary is stopped. */
const SUITE_SETTINGS: Record<Suite, { images: ImageModule; timeoutMinutes: number; serving: boolean }> = {
  'api-v1': { images: 'serving', timeoutMinutes: 25, serving: true },
  'api-v1beta1': { images: 'serving', timeoutMinutes: 12, serving: true },
  runtime: { images: 'serving', timeoutMinutes: 15, serving: true },
  ingress: { images: 'networking', timeoutMinutes: 20, serving: false },
};

const { values } = parseArgs({
  options: {
    suite: { type: 'string', multiple: true },
    'keep-cluster': { type: 'boolean', default: false },
    /** Run only the tests known-failures.ts skips, to see which of them pass by now. */
    'only-known': { type: 'boolean', default: false },
    /** Write the results from the last run's event logs instead of running the suites. */
    'from-logs': { type: 'boolean', default: false },
    'state-dir': { type: 'string', default: defaultStateDir },
    /** Where results.md/json go; another directory keeps a partial run from replacing them. */
    results: { type: 'string', default: import.meta.dirname },
  },
});
const suites = (values.suite ?? [...SUITES]) as Suite[];
for (const suite of suites)
  if (!SUITES.includes(suite)) throw new Error(`unknown suite ${suite} (known: ${SUITES.join(', ')})`);
const stateDir = values['state-dir'];

/** Runs build.sh, which prints the cache directory of the built suites and image binaries last. */
async function buildSuites(): Promise<string> {
  const child = spawn('bash', [join(here, 'build.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`test/conformance/build.sh failed with exit code ${code}`);
  return out.trim().split('\n').at(-1)!;
}

/** The local cluster of stateDir, started by `pilotlight up --local` when it does not run. */
async function ensureCluster(): Promise<{ k: Kubectl; startedHere: boolean }> {
  const socket = join(stateDir, 'containerd', 'containerd.sock');
  const processes = recordedProcesses(stateDir);
  const running = await runningControlPlane(stateDir);
  const binDir = await ensureBinaries(['kubectl']);
  let startedHere = false;
  if (
    !running ||
    !existsSync(socket) ||
    processes.length === 0 ||
    !processes.every((p) => isRunning(p.pid, p.binary))
  ) {
    say(`the local cluster (${stateDir}) is not running; starting it`);
    const { up } = await import('../../cli/cluster.ts');
    await up(['--local', '--state-dir', stateDir]);
    startedHere = true;
  } else {
    say(`using the running local cluster (${stateDir})`);
  }
  return { k: { binary: join(binDir, 'kubectl'), kubeconfig: join(stateDir, 'kubeconfig') }, startedHere };
}

/**
 * What the suites expect to exist, read from upstream's test/config in the module cache at the
 * pinned version: the test namespaces, the ConfigMap and Secret the runtime tests mount, and the
 * system configuration upstream's CI gives them.
 */
async function applyTestResources(k: Kubectl, servingDir: string): Promise<void> {
  const wanted = (doc: { kind?: string; metadata?: { name?: string; namespace?: string } }) =>
    (doc.kind === 'Namespace' && [TEST_NAMESPACE, ALT_TEST_NAMESPACE].includes(doc.metadata?.name ?? '')) ||
    ((doc.kind === 'ConfigMap' || doc.kind === 'Secret') && doc.metadata?.namespace === TEST_NAMESPACE);
  const docs = ['cluster-resources.yaml', 'test-resources.yaml']
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(servingDir, 'test', 'config', file), 'utf8')).map((d) => d.toJSON()),
    )
    .filter((doc) => doc && wanted(doc));
  if (docs.length < 4)
    throw new Error(
      `expected 2 namespaces, a ConfigMap and a Secret in ${servingDir}/test/config, found ${docs.length} documents`,
    );
  await kubectl(k, ['apply', '-f', '-'], docs.map((doc) => JSON.stringify(doc)).join('\n'));
  // Upstream's CI sets config-network's autocreate-cluster-domain-claims to "true" through a ytt
  // overlay (TestDomainMapping relies on it); apply that overlay's data the same way.
  for (const [file, configMap] of CONFIG_OVERLAYS) {
    const data = parseAllDocuments(readFileSync(join(servingDir, 'test', 'config', 'ytt', 'core', file), 'utf8'))
      .map((d) => d.toJSON() as { data?: Record<string, string> } | null)
      .find((doc) => doc?.data)?.data;
    if (!data) throw new Error(`no data in ${servingDir}/test/config/ytt/core/${file}`);
    await kubectl(k, [
      'patch',
      'configmap',
      configMap,
      '-n',
      SYSTEM_NAMESPACE,
      '--type=merge',
      '-p',
      JSON.stringify({ data }),
    ]);
  }
  await kubectl(k, [
    'patch',
    'service',
    GATEWAY_SERVICE,
    '-n',
    SYSTEM_NAMESPACE,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { type: 'NodePort' } }),
  ]);
}

async function runSuite(suite: Suite, cacheDir: string, k: Kubectl, tag: string): Promise<SuiteResult> {
  const settings = SUITE_SETTINGS[suite];
  // With --only-known the skip list becomes the selection (and its results go elsewhere).
  const skip = skipPattern(suite);
  const selection = values['only-known'] ? [`-test.run=${skip ?? '^$'}`] : skip ? [`-test.skip=${skip}`] : [];
  const args = [
    `--kubeconfig=${k.kubeconfig}`,
    `--ingressendpoint=${NODE_IP}`,
    '--resolvabledomain=false',
    `--dockerrepo=${dockerRepo(settings.images)}`,
    `--tag=${tag}`,
    '--enable-beta',
    '-test.v=test2json',
    '-test.parallel=2',
    `-test.timeout=${settings.timeoutMinutes}m`,
    ...selection,
    ...(settings.serving
      ? [
          `--test-namespace=${TEST_NAMESPACE}`,
          `--alt-test-namespace=${ALT_TEST_NAMESPACE}`,
          '--disable-logstream',
          `--ingress-class=${PILOTLIGHT_INGRESS_CLASS}`,
        ]
      : // Alpha: the KIngress httpOption test (plain HTTP redirected to https), which the gateway implements.
        [`--ingressClass=${PILOTLIGHT_INGRESS_CLASS}`, '--enable-alpha']),
  ];
  const workDir = mkdtempSync(join(tmpdir(), `pilotlight-conformance-${suite}-`));
  const logPath = join(cacheDir, 'logs', `${suite}.jsonl`);
  mkdirSync(join(cacheDir, 'logs'), { recursive: true });
  // Written as the events come, so a long run can be followed (tail -f) and a cut-off one read.
  const log = createWriteStream(logPath);
  const started = Date.now();
  say(`running ${suite} ${selection.join(' ')}`);
  const child = spawn(
    join(cacheDir, 'bin', 'test2json'),
    ['-t', '-p', suite, join(cacheDir, 'tests', `${suite}.test`), ...args],
    {
      cwd: workDir,
      env: {
        ...process.env,
        KUBECONFIG: k.kubeconfig,
        GATEWAY_OVERRIDE: GATEWAY_SERVICE,
        GATEWAY_NAMESPACE_OVERRIDE: SYSTEM_NAMESPACE,
        SYSTEM_NAMESPACE,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  // -test.timeout makes the binary panic and exit; this is the backstop if even that hangs.
  const backstop = setTimeout(() => child.kill('SIGKILL'), (settings.timeoutMinutes + 2) * 60_000);
  const lines: string[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    log.write(`${line}\n`);
    lines.push(line);
    if (/"Output":"\s*--- FAIL/.test(line))
      process.stdout.write(`  ${suite}: ${(JSON.parse(line) as { Output: string }).Output.trim()}\n`);
  }
  const exitCode = await new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.on('close', resolve),
  );
  clearTimeout(backstop);
  log.end();
  rmSync(workDir, { recursive: true, force: true });

  const result = suiteResult(suite, lines, exitCode, (Date.now() - started) / 1000);
  const counts = (status: string) => result.tests.filter((r) => r.status === status).length;
  say(
    `${suite}: ${counts('pass')} passed, ${counts('fail')} failed, ${counts('skip')} skipped in ${result.seconds.toFixed(0)} s (exit ${exitCode}; events in ${logPath})`,
  );
  return result;
}

async function main(): Promise<number> {
  const started = Date.now();
  const results: SuiteResult[] = [];
  let error: string | undefined;
  let tag = 'unknown';
  try {
    const cacheDir = await buildSuites();
    tag = cacheDir.split('/').at(-1)!;
    if (values['from-logs']) {
      for (const suite of suites) results.push(fromLog(suite, cacheDir));
      return finish(started, tag, results, undefined);
    }
    const moduleDirs = Object.fromEntries(
      await Promise.all(
        IMAGE_MODULES.map(async (module) => {
          const { stdout } = await run('go', ['list', '-m', '-f', '{{.Dir}}', `knative.dev/${module}`], {
            cwd: here,
            env: { ...process.env, GOTOOLCHAIN: 'local' },
          });
          return [module, stdout.trim()] as const;
        }),
      ),
    ) as Record<ImageModule, string>;
    const images = (
      await Promise.all(IMAGE_MODULES.map((module) => packModuleImages(cacheDir, module, moduleDirs[module], tag)))
    ).flat();

    const cluster = await ensureCluster();
    try {
      const pushStarted = Date.now();
      const ca = readFileSync(join(stateDir, 'pki', 'ca.crt'), 'utf8');
      await pushImages(createRegistryClient([ca]), images);
      say(
        `${images.length} test images packed and pushed to ${REGISTRY_HOST} in ${((Date.now() - pushStarted) / 1000).toFixed(1)} s`,
      );
      await applyTestResources(cluster.k, moduleDirs.serving);
      for (const suite of suites) results.push(await runSuite(suite, cacheDir, cluster.k, tag));
    } finally {
      if (cluster.startedHere && !values['keep-cluster']) {
        say('taking down the local cluster this run started');
        const { down } = await import('../../cli/cluster.ts');
        await down(['--state-dir', stateDir]);
      }
    }
  } catch (caught) {
    // Still write the results: a run that could not finish says so in results.md.
    error = caught instanceof Error ? caught.message : String(caught);
    console.error(`conformance: ${caught instanceof Error ? (caught.stack ?? caught.message) : error}`);
  }
  return finish(started, tag, results, error);
}

/** A suite's result from the event log its last run left (exit code and time from its events). */
function fromLog(suite: Suite, cacheDir: string): SuiteResult {
  const lines = readFileSync(join(cacheDir, 'logs', `${suite}.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean);
  const end = lines
    .map((line) => {
      try {
        return JSON.parse(line) as { Action: string; Test?: string; Elapsed?: number };
      } catch {
        return undefined;
      }
    })
    .findLast((event) => event && !event.Test && (event.Action === 'pass' || event.Action === 'fail'));
  return suiteResult(suite, lines, end ? (end.Action === 'pass' ? 0 : 1) : null, end?.Elapsed ?? 0);
}

async function finish(
  started: number,
  tag: string,
  results: SuiteResult[],
  error: string | undefined,
): Promise<number> {
  const { stdout: commit } = await run('git', ['log', '-1', '--format=%h %s'], { cwd: repoRoot }).catch(() => ({
    stdout: 'unknown',
  }));
  const summary = writeResults(values.results, {
    date: new Date(started).toISOString(),
    commit: commit.trim(),
    servingVersion: tag,
    wallSeconds: (Date.now() - started) / 1000,
    suites: results,
    ...(error ? { error } : {}),
    knownFailures: { pilotlightBugs: PILOTLIGHT_BUGS, outsideTheProject: OUTSIDE_THE_PROJECT },
  });
  say(`results in ${join(values.results, 'results.md')} and results.json`);
  // The plain closing line tools reading the end of the log understand.
  console.log(`\nconformance: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
  return error || summary.failed > 0 ? 1 : 0;
}

process.exitCode = await main();
