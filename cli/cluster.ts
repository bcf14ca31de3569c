// `pilotlight up | down | status`.
import { existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBinaries, ensureTool } from './cluster/binaries.ts';
import { applyClusterDns, coreDnsImage, waitForClusterDns } from './cluster/dns.ts';
import { runningControlPlane, startControlPlane, stopControlPlane } from './cluster/controlPlane.ts';
import { NODE_IP, REGISTRY_HOST, ensureNodePackages, prepareHostNetwork, startNode, stopNode } from './cluster/node.ts';
import { startRegistry, stopRegistry } from './cluster/registry.ts';
import { installChart, stopHostController, waitForWebhook, type Kubectl } from './cluster/operator.ts';
import { SAMPLE_APPS, buildOperatorImage, buildSampleImage, importImage } from './images/build.ts';
import { defaultStateDir, repoRoot } from './cluster/paths.ts';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { createKubeRest } from '../lib/kube/rest.ts';
import { isRunning, recordedProcesses } from './cluster/processes.ts';

const say = (line: string) => console.log(`[pilotlight] ${line}`);

/** The gateway's external listener, published on the node (this machine). */
const GATEWAY_PORT = 31080;
/** Its external TLS listener, likewise. */
const GATEWAY_TLS_PORT = 31443;

export async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'control-plane-only': { type: 'boolean', default: false },
      'state-dir': { type: 'string', default: defaultStateDir },
      local: { type: 'boolean', default: false },
      image: { type: 'string' },
      // The chart's certificateIssuer.enabled: pilotlight's certificate class, with Secrets access.
      'certificate-issuer': { type: 'boolean', default: false },
    },
  });
  const chartValues: Record<string, string> = values['certificate-issuer']
    ? { 'certificateIssuer.enabled': 'true' }
    : {};
  const stateDir = values['state-dir'];
  const started = Date.now();
  const configured = values.local || values['control-plane-only'] ? undefined : await configuredCluster();
  if (configured) {
    await installIntoConfiguredCluster(configured, values.image, chartValues);
    return;
  }
  if (values['control-plane-only']) {
    const controlPlane = await startControlPlane({ stateDir, log: say });
    say(`control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`KUBECONFIG=${controlPlane.kubeconfig}`);
    return;
  }
  const binDir = await ensureBinaries([
    'kube-apiserver',
    'etcd',
    'kubectl',
    'kube-controller-manager',
    'kube-scheduler',
    'kubelet',
    'kube-proxy',
  ]);
  // The API server listens on the node address, so it must exist first.
  await ensureNodePackages(say);
  await prepareHostNetwork();
  const controlPlane = await startControlPlane({ stateDir, nodeIp: NODE_IP, log: say });
  // Its certificate comes from the control plane's CA, which containerd and every pod trust.
  await startRegistry({ stateDir, host: REGISTRY_HOST, binary: await ensureTool('registry'), log: say });
  const { containerdSocket } = await startNode({ stateDir, binDir, controlPlane, log: say });
  const k: Kubectl = { binary: join(binDir, 'kubectl'), kubeconfig: controlPlane.kubeconfig };
  say('starting cluster DNS (CoreDNS)');
  const dns = await coreDnsImage(await ensureTool('coredns'));
  await importImage(containerdSocket, dns.archive);
  await applyClusterDns(k, dns.name);
  say(`building the operator image and the sample apps' (${SAMPLE_APPS.join(', ')})`);
  const image = await buildOperatorImage(join(stateDir, 'images'));
  await importImage(containerdSocket, image.archive);
  for (const app of SAMPLE_APPS)
    await importImage(containerdSocket, (await buildSampleImage(app, join(stateDir, 'images'))).archive);
  // CoreDNS started while the images were built; the operator's pods come up resolving names.
  await waitForClusterDns(k);
  say(`installing the Helm chart with ${image.name}`);
  await installChart(
    k,
    await ensureTool('helm'),
    {
      'image.tag': image.name.split(':').at(-1)!,
      'gateway.hostPort': String(GATEWAY_PORT),
      'gateway.tlsHostPort': String(GATEWAY_TLS_PORT),
      ...chartValues,
    },
    { wait: true },
  );
  await waitForWebhook(k);
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`
A one-node Kubernetes cluster runs on this machine with pilotlight installed by its Helm chart
(namespace knative-serving). The gateway listens on http://127.0.0.1:${GATEWAY_PORT} and routes
by the Host header; https://127.0.0.1:${GATEWAY_TLS_PORT} serves KIngress hosts with spec.tls by SNI.
Its OCI registry is https://${REGISTRY_HOST} (CA: ${join(stateDir, 'pki', 'ca.crt')}).

Try it:
  export KUBECONFIG=${controlPlane.kubeconfig}
  export PATH=${binDir}:$PATH
  kubectl apply -f ${join(repoRoot, 'samples', 'hello-local.yaml')}
  kubectl wait --for=condition=Ready ksvc/hello
  curl -H 'Host: hello.default.example.com' http://127.0.0.1:${GATEWAY_PORT}/
  kubectl get ksvc hello -o yaml      # defaults filled in: traffic, timeoutSeconds, container name
  kubectl apply -f ${join(repoRoot, 'samples', 'invalid-traffic.yaml')}   # rejected, naming the field
  kubectl apply -f ${join(repoRoot, 'samples', 'autoscale-local.yaml')}   # then ?sleep=ms or ?prime=N per request
  kubectl apply -f ${join(repoRoot, 'samples', 'websocket-local.yaml')}   # a WebSocket echo through the gateway
`);
  console.log(`KUBECONFIG=${controlPlane.kubeconfig}`);
}

/** The cluster of the current kubeconfig context, when there is one and it answers. */
async function configuredCluster(): Promise<{ kubeconfig: string; server: string } | undefined> {
  const kubeconfig = process.env.KUBECONFIG?.split(':').find(Boolean) ?? join(homedir(), '.kube', 'config');
  if (!existsSync(kubeconfig)) return undefined;
  const connection = loadKubeConnection(kubeconfig);
  try {
    await createKubeRest(connection).request('GET', '/version');
  } catch (error) {
    throw new Error(
      `the kubeconfig at ${kubeconfig} names ${connection.server}, which does not answer (${(error as Error).message}); fix it, or pass --local to start a cluster on this machine`,
    );
  }
  return { kubeconfig, server: connection.server };
}

/** Installs the chart into a cluster someone else runs, touching nothing on this machine. */
async function installIntoConfiguredCluster(
  cluster: { kubeconfig: string; server: string },
  image: string | undefined,
  chartValues: Record<string, string>,
): Promise<void> {
  const match = image ? /^(.+):([^:/]+)$/.exec(image) : null;
  if (!match) {
    throw new Error(
      `installing into the configured cluster ${cluster.server} needs --image REGISTRY/pilotlight:TAG: ` +
        'that cluster cannot see images built here (cli/images/build.ts writes the OCI archive to push). ' +
        'Pass --local to start a cluster on this machine instead.',
    );
  }
  say(`installing pilotlight into the configured cluster ${cluster.server} with ${image}`);
  const binDir = await ensureBinaries(['kubectl']);
  await installChart(
    { binary: join(binDir, 'kubectl'), kubeconfig: cluster.kubeconfig },
    await ensureTool('helm'),
    { 'image.repository': match[1]!, 'image.tag': match[2]!, ...chartValues },
    { wait: false },
  );
  say('installed in namespace knative-serving; its pods start once the cluster pulls the image');
  console.log(`KUBECONFIG=${cluster.kubeconfig}`);
}

export async function down(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'state-dir': { type: 'string', default: defaultStateDir } } });
  const stateDir = values['state-dir'];
  const binDir = await ensureBinaries(['kube-proxy']).catch(() => undefined);
  // Each part is stopped even when an earlier one failed (a mount still busy, say): a failed step
  // must not leave the registry and the control plane running unrecorded for the next `up`.
  const stopped: string[] = [];
  const failures: string[] = [];
  for (const [part, stop] of [
    ['the host controller', () => stopHostController(stateDir)],
    ['the node', () => stopNode(stateDir, binDir)],
    ['the registry', () => stopRegistry(stateDir)],
    ['the control plane', () => stopControlPlane(stateDir)],
  ] as const) {
    try {
      stopped.push(...(await stop()));
    } catch (error) {
      failures.push(`${part}: ${(error as Error).message}`);
    }
  }
  rmSync(join(stateDir, 'images'), { recursive: true, force: true });
  say(stopped.length > 0 ? `stopped ${stopped.join(', ')}` : 'nothing was running');
  if (failures.length > 0) throw new Error(`down did not finish cleanly:\n${failures.join('\n')}`);
}

export async function status(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'state-dir': { type: 'string', default: defaultStateDir } } });
  const stateDir = values['state-dir'];
  const processes = recordedProcesses(stateDir);
  if (processes.length === 0) {
    say(`nothing running (state in ${stateDir})`);
    process.exitCode = 1;
    return;
  }
  for (const p of processes)
    say(`${p.name.padEnd(22)} pid ${p.pid} ${isRunning(p.pid, p.binary) ? 'running' : 'NOT RUNNING'}`);
  const controlPlane = await runningControlPlane(stateDir);
  say(controlPlane ? `API server ready at ${controlPlane.server}` : 'API server not ready');
  const kubeconfig = join(stateDir, 'kubeconfig');
  if (existsSync(kubeconfig)) console.log(`KUBECONFIG=${kubeconfig}`);
  if (!controlPlane || processes.some((p) => !isRunning(p.pid, p.binary))) process.exitCode = 1;
}
