// The chart's whole life on a real kube-apiserver + etcd of its own (it installs cluster-wide
// objects, the CRDs and the webhook configurations, that the run's shared control plane serves
// to every other test): the controller's readiness, helm install, the controller filling the
// webhook's objects, a helm upgrade that changes a CRD, and a helm uninstall that leaves nothing
// of the release. No nodes: nothing is scheduled, and helm never --waits.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ensureBinaries, ensureTool } from '../../../cli/cluster/binaries.ts';
import {
  type ControlPlane,
  kubeconfigYaml,
  startControlPlane,
  stopControlPlane,
} from '../../../cli/cluster/controlPlane.ts';
import { applyCrds } from '../../../cli/cluster/operator.ts';
import { repoRoot } from '../../../cli/cluster/paths.ts';
import { freePort, startProcess, stopProcesses } from '../../../cli/cluster/processes.ts';
import { WEBHOOK_CERTS_SECRET } from '../../../controllers/webhook/certificates.ts';
import { ANNOUNCE_KEY_SECRET } from '../../../lib/announce.ts';
import {
  CONFIG_VALIDATION_WEBHOOK,
  DEFAULTING_WEBHOOK,
  VALIDATION_WEBHOOK,
} from '../../../controllers/webhook/registration.ts';
import { CHART, helmRun } from '../../support/helm.ts';

const run = promisify(execFile);
const NAMESPACE = 'knative-serving';
const CONTROLLER = 'pilotlight-controller';
const RELEASE = 'pilotlight';

let stateDir: string;
let controlPlane: ControlPlane;
let kubeconfig: string;
let kubectlBinary: string;
let helm: string;

beforeAll(async () => {
  helm = await ensureTool('helm');
  kubectlBinary = join(await ensureBinaries(['kubectl']), 'kubectl');
  stateDir = mkdtempSync(join(tmpdir(), 'pilotlight-chart-'));
  controlPlane = await startControlPlane({ stateDir, ephemeral: true });
  kubeconfig = controlPlane.kubeconfig;
}, 20 * 60_000);

afterAll(async () => {
  if (!stateDir) return;
  await stopProcesses(stateDir, [CONTROLLER]);
  await stopControlPlane(stateDir);
  rmSync(stateDir, { recursive: true, force: true });
});

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run(kubectlBinary, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, maxBuffer: 64 << 20 });
  child.child.stdin?.end(input ?? '');
  return (await child).stdout;
}

const helmHere = (args: string[]) => helmRun(helm, args, { KUBECONFIG: kubeconfig });

async function getJson<T = Record<string, any>>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T;
}

/** Every object the API server lists, of every kind, as kind/namespace/name. */
async function everything(): Promise<Set<string>> {
  const kinds = (await kubectl(['api-resources', '--verbs=list', '-o', 'name'])).split('\n').filter(Boolean);
  const { items } = await getJson<{ items: { kind: string; metadata: { name: string; namespace?: string } }[] }>([
    kinds.join(','),
    '--all-namespaces',
  ]);
  return new Set(items.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`));
}

/** `pilotlight controller` as in its pod: registered through the webhook Service of its namespace. */
async function startController(systemNamespace: string, asKubeconfig = kubeconfig): Promise<number> {
  const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
  startProcess(
    stateDir,
    CONTROLLER,
    process.execPath,
    [
      join(repoRoot, 'cli', 'main.ts'),
      'controller',
      '--webhook-host',
      '127.0.0.1',
      '--webhook-port',
      String(port),
      '--webhook-service',
      'webhook',
      '--metrics-port',
      String(metricsPort),
    ],
    { KUBECONFIG: asKubeconfig, SYSTEM_NAMESPACE: systemNamespace },
  );
  return port;
}

/** The status of GET path on the controller's HTTPS port, 0 when nothing answers. Like the kubelet's probe, it does not verify the certificate. */
function probe(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(5_000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Polls until check passes: every 250 ms, for at most seconds; throws naming what it waited for. */
async function waitFor(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`${what}: not within ${seconds} s; controller log:\n${controllerLog()}`);
}

const controllerLog = () => {
  try {
    return readFileSync(join(stateDir, 'logs', `${CONTROLLER}.log`), 'utf8')
      .split('\n')
      .slice(-20)
      .join('\n');
  } catch {
    return '(none)';
  }
};

const exists = (args: string[]) =>
  kubectl(['get', ...args, '-o', 'name']).then(
    () => true,
    () => false,
  );

describe('the chart on a control plane of its own', () => {
  let baseline: Set<string>;

  it('keeps the controller unready while it cannot list what it reconciles, and alive', async () => {
    // No CRDs yet: its informers for Knative's kinds cannot list, though the webhook serves.
    await kubectl(['create', 'namespace', 'readiness-check']);
    const port = await startController('readiness-check');
    await waitFor('/healthz answering 200', 60, async () => (await probe(port, '/healthz')) === 200);
    await waitFor('the webhook registered', 30, () => exists(['mutatingwebhookconfiguration', DEFAULTING_WEBHOOK]));
    expect(await probe(port, '/readyz')).toBe(503);

    await applyCrds({ binary: kubectlBinary, kubeconfig });
    await waitFor('/readyz answering 200 once the CRDs exist', 60, async () => (await probe(port, '/readyz')) === 200);
    expect(await probe(port, '/healthz')).toBe(200);

    // Leave the cluster as it was for a fresh install.
    await stopProcesses(stateDir, [CONTROLLER]);
    await kubectl(['delete', 'mutatingwebhookconfiguration', DEFAULTING_WEBHOOK]);
    await kubectl(['delete', 'validatingwebhookconfiguration', VALIDATION_WEBHOOK, CONFIG_VALIDATION_WEBHOOK]);
    await kubectl(['delete', '-f', join(repoRoot, 'crds')]);
  }, 180_000);

  it('installs with helm alone, printing the gateway address and a first Knative Service', async () => {
    baseline = await everything();
    const { stdout } = await helmHere([
      'install',
      RELEASE,
      CHART,
      '--namespace',
      NAMESPACE,
      '--create-namespace',
      '--set',
      'image.tag=test',
    ]);
    expect(stdout).toContain('STATUS: deployed');
    expect(stdout).toContain(`GATEWAY=$(kubectl get service gateway -n ${NAMESPACE}`);
    expect(stdout).toContain('kind: Service');
    expect(stdout).toContain("curl -H 'Host: hello.default.example.com' http://$GATEWAY/");

    // Every object of the release is there.
    const manifest = (await helmHere(['get', 'manifest', RELEASE, '--namespace', NAMESPACE])).stdout;
    const objects = parseAllDocuments(manifest)
      .map((doc) => doc.toJS())
      .filter(Boolean);
    expect(objects.length).toBeGreaterThan(40);
    const listed = (await kubectl(['get', '-f', '-', '-o', 'name'], manifest)).split('\n').filter(Boolean);
    expect(listed).toHaveLength(objects.length);
  }, 120_000);

  it("gets the controller ready with its release's ServiceAccount, and keeps what it writes into the webhook's objects", async () => {
    // As its pod would run: the chart's role must let every informer list and the webhook write
    // its Secret and configurations, or it never turns ready.
    const token = (await kubectl(['create', 'token', 'pilotlight-controller', '--namespace', NAMESPACE])).trim();
    const asServiceAccount = join(stateDir, 'controller.kubeconfig');
    writeFileSync(asServiceAccount, kubeconfigYaml(controlPlane.server, token, controlPlane.caCertificate));
    const port = await startController(NAMESPACE, asServiceAccount);
    await waitFor('/readyz answering 200', 60, async () => (await probe(port, '/readyz')) === 200);
    const secret = await getJson(['secret', WEBHOOK_CERTS_SECRET, '-n', NAMESPACE]);
    expect(Object.keys(secret.data).sort()).toEqual([
      'ca-cert.pem',
      'ca-key.pem',
      'names',
      'server-cert.pem',
      'server-key.pem',
    ]);
    const mutating = await getJson(['mutatingwebhookconfiguration', DEFAULTING_WEBHOOK]);
    expect(mutating.webhooks[0].clientConfig.caBundle).toBeTruthy();
    expect(mutating.webhooks[0].rules.length).toBeGreaterThan(0);
    for (const object of [secret, mutating])
      expect(object.metadata.annotations).toMatchObject({
        'meta.helm.sh/release-name': RELEASE,
        'meta.helm.sh/release-namespace': NAMESPACE,
      });
  }, 120_000);

  it("applies a CRD's change on helm upgrade and leaves the controller's certificates and CA bundle", async () => {
    const before = {
      secret: (await getJson(['secret', WEBHOOK_CERTS_SECRET, '-n', NAMESPACE])).data,
      mutating: (await getJson(['mutatingwebhookconfiguration', DEFAULTING_WEBHOOK])).webhooks,
      validating: (await getJson(['validatingwebhookconfiguration', VALIDATION_WEBHOOK])).webhooks,
    };
    // The next version of the chart: a printer column more on Knative Services.
    // files/crds is a link to the repository's crds/, which cpSync copies as a link: the CRDs are
    // copied one by one, so the edit stays in the copy.
    const next = join(stateDir, 'chart-next');
    const crdDir = join(CHART, 'files', 'crds');
    cpSync(CHART, next, { recursive: true, filter: (source) => source !== crdDir });
    mkdirSync(join(next, 'files', 'crds'));
    for (const file of readdirSync(crdDir).filter((name) => name.endsWith('.yaml')))
      copyFileSync(join(crdDir, file), join(next, 'files', 'crds', file));
    const crdFile = join(next, 'files', 'crds', 'services.serving.knative.dev.yaml');
    const crd = parse(readFileSync(crdFile, 'utf8'));
    for (const version of crd.spec.versions)
      version.additionalPrinterColumns.push({ name: 'Generation', type: 'integer', jsonPath: '.metadata.generation' });
    writeFileSync(crdFile, stringify(crd, { lineWidth: 0 }));

    // helm patches the release's ConfigMaps, which the ConfigMap webhook admits. Its Service has no
    // pod behind it on a control plane without nodes, so let the API server go on without an answer.
    await kubectl([
      'patch',
      'validatingwebhookconfiguration',
      CONFIG_VALIDATION_WEBHOOK,
      '--type=json',
      '-p',
      '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]',
    ]);
    const { stdout } = await helmHere(['upgrade', RELEASE, next, '--namespace', NAMESPACE, '--set', 'image.tag=test']);
    expect(stdout).toContain('REVISION: 2');
    const stored = await getJson(['crd', 'services.serving.knative.dev']);
    for (const version of stored.spec.versions)
      expect(version.additionalPrinterColumns.map((c: { name: string }) => c.name)).toContain('Generation');

    expect((await getJson(['secret', WEBHOOK_CERTS_SECRET, '-n', NAMESPACE])).data).toEqual(before.secret);
    expect((await getJson(['mutatingwebhookconfiguration', DEFAULTING_WEBHOOK])).webhooks).toEqual(before.mutating);
    expect((await getJson(['validatingwebhookconfiguration', VALIDATION_WEBHOOK])).webhooks).toEqual(before.validating);
  }, 120_000);

  it('leaves nothing of the release on helm uninstall but the CRDs it keeps', async () => {
    await stopProcesses(stateDir, [CONTROLLER]);
    await helmHere(['uninstall', RELEASE, '--namespace', NAMESPACE]);
    const remaining = [...(await everything())].filter((object) => !baseline.has(object)).sort();
    const { items: crds } = await getJson<{
      items: { metadata: { name: string }; spec: { group: string; versions: { name: string }[] } }[];
    }>(['crd']);
    expect(crds).toHaveLength(10);
    expect(remaining).toEqual(
      [
        // helm --create-namespace makes it and never deletes it.
        `Namespace//${NAMESPACE}`,
        // The controller's leader election, not the release's: it goes with the namespace.
        `Lease/${NAMESPACE}/pilotlight-controller`,
        // The key of queue-proxy's announce tokens, which the controller creates: it goes with the namespace too.
        `Secret/${NAMESPACE}/${ANNOUNCE_KEY_SECRET}`,
        ...crds.map((crd) => `CustomResourceDefinition//${crd.metadata.name}`),
        // The API server's own registration of each group/version the kept CRDs serve.
        ...new Set(
          crds.flatMap((crd) => crd.spec.versions.map((version) => `APIService//${version.name}.${crd.spec.group}`)),
        ),
      ].sort(),
    );
  }, 120_000);
});
