// `pilotlight up | down | status`.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseCommand } from './args.ts';
import { ensureBinaries, ensureTool } from './cluster/binaries.ts';
import type { ConfiguredCluster } from './cluster/configured.ts';
import { applyClusterDns, coreDnsImage, waitForClusterDns } from './cluster/dns.ts';
import { runningControlPlane, startControlPlane, stopControlPlane } from './cluster/controlPlane.ts';
import { CHART_DIR, type Install, findHelm, installArgs, installChart } from './cluster/helm.ts';
import { NODE_IP, REGISTRY_HOST, ensureNodePackages, prepareHostNetwork, startNode, stopNode } from './cluster/node.ts';
import { startRegistry, stopRegistry } from './cluster/registry.ts';
import { stopHostController, waitForWebhook, type Kubectl } from './cluster/operator.ts';
import { publish } from './images/publish.ts';
import { pushOciArchive } from './images/push.ts';
import { createRegistryClient } from '../lib/oci/client.ts';
import { defaultStateDir, repoRoot } from './cluster/paths.ts';
import { isRunning, recordedProcesses } from './cluster/processes.ts';
import { step } from './progress.ts';

const run = promisify(execFile);
const say = (line: string) => console.log(`[pilotlight] ${line}`);

/** The gateway's external listener, published on the node (this machine). */
const GATEWAY_PORT = 31080;
/** Its external TLS listener, likewise. */
const GATEWAY_TLS_PORT = 31443;

const STATE_DIR = {
  type: 'string',
  value: 'DIR',
  default: defaultStateDir,
  description: "the local cluster's state: certificates, data, logs, process ids ($PILOTLIGHT_STATE_DIR)",
} as const;

const UP = {
  usage: 'pilotlight up [--local | --control-plane-only | --image IMAGE [--context NAME]] [--state-dir DIR]',
  summary: [
    'With a kubeconfig context configured ($KUBECONFIG or ~/.kube/config), installs the chart into that',
    'cluster with --image, touching nothing on this machine (needs helm on PATH, or Go to build it).',
    'Otherwise (or with --local) starts a one-node cluster on this machine (root, Linux) with an OCI',
    'registry, pushes the operator image and the chart to it and installs pilotlight from there.',
  ].join('\n'),
  options: {
    local: { type: 'boolean', description: 'start the local cluster even when a kubeconfig context is configured' },
    'control-plane-only': {
      type: 'boolean',
      description: 'start only etcd and kube-apiserver on loopback (no root needed); print KUBECONFIG=',
    },
    'skip-install': {
      type: 'boolean',
      description: 'local cluster: push the image and the chart to its registry, but leave `helm install` to you',
    },
    image: {
      type: 'string',
      value: 'IMAGE',
      description: 'configured cluster: the operator image it pulls, REGISTRY/pilotlight:TAG (see `image push`)',
    },
    context: {
      type: 'string',
      value: 'NAME',
      description: 'configured cluster: the kubeconfig context (default: current)',
    },
    'certificate-issuer': {
      type: 'boolean',
      description: "the chart's certificateIssuer.enabled: pilotlight's certificate class, with Secrets access",
    },
    'state-dir': STATE_DIR,
  },
} as const;

export async function up(argv: string[]): Promise<void> {
  const values = parseCommand(argv, UP);
  if (!values) return;
  const chartValues: Record<string, string> = values['certificate-issuer']
    ? { 'certificateIssuer.enabled': 'true' }
    : {};
  const stateDir = values['state-dir'];
  const started = Date.now();
  const local = values.local || values['control-plane-only'] || values['skip-install'];
  // @kubernetes/client-node is loaded only to read a user's kubeconfig.
  const configured = local
    ? undefined
    : await (await import('./cluster/configured.ts')).configuredCluster(values.context);
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
  // Before minutes of building: can this machine run a node at all?
  await preflight();
  const binDir = await step(say, 'building (first time) or finding the Kubernetes binaries', () =>
    ensureBinaries([
      'kube-apiserver',
      'etcd',
      'kubectl',
      'kube-controller-manager',
      'kube-scheduler',
      'kubelet',
      'kube-proxy',
    ]),
  );
  const [registryBinary, corednsBinary, helm] = await step(
    say,
    'building (first time) or finding registry, CoreDNS and helm',
    () => Promise.all([ensureTool('registry'), ensureTool('coredns'), ensureTool('helm')]),
  );
  // The API server listens on the node address, so it must exist first.
  await ensureNodePackages(say);
  await prepareHostNetwork();
  const controlPlane = await startControlPlane({ stateDir, nodeIp: NODE_IP, log: say });
  const caFile = join(stateDir, 'pki', 'ca.crt');
  // Its certificate comes from the control plane's CA, which containerd and every pod trust.
  await startRegistry({ stateDir, host: REGISTRY_HOST, binary: registryBinary, log: say });
  const registry = createRegistryClient([readFileSync(caFile, 'utf8')]);
  await startNode({ stateDir, binDir, controlPlane, registry, log: say });
  const k: Kubectl = { binary: join(binDir, 'kubectl'), kubeconfig: controlPlane.kubeconfig };
  say('starting cluster DNS (CoreDNS)');
  const dns = await coreDnsImage(corednsBinary, REGISTRY_HOST);
  await pushOciArchive(registry, dns.archive, dns.name);
  await applyClusterDns(k, dns.name);
  // The sample apps too, under the tag samples/*-local.yaml name: every pod pulls what it runs.
  const published = await publish({
    registry: REGISTRY_HOST,
    caFile,
    samples: true,
    helm,
    outDir: join(stateDir, 'images'),
    log: say,
  });
  // CoreDNS started while the images were built; the operator's pods come up resolving names.
  await waitForClusterDns(k);
  const install: Install = {
    chart: published.chart,
    version: published.version,
    // A node port, not a hostPort: kube-proxy sends each connection to a ready gateway replica,
    // so the address outlives any one gateway pod.
    values: {
      'gateway.service.type': 'NodePort',
      'gateway.service.nodePort': String(GATEWAY_PORT),
      'gateway.service.tlsNodePort': String(GATEWAY_TLS_PORT),
      ...chartValues,
    },
    // Clusters installed by charts before 0.2 left the CRDs, the webhook configurations and the
    // webhook Secret outside the release; an upgrade adopts them.
    takeOwnership: true,
    kubeconfig: controlPlane.kubeconfig,
    caFile,
    wait: true,
  };
  if (values['skip-install']) {
    console.log(`
The cluster runs, and its registry https://${REGISTRY_HOST} (CA: ${caFile}) holds ${published.image}
and the chart. Install pilotlight as on any cluster:
  KUBECONFIG=${controlPlane.kubeconfig} helm ${installArgs(install).join(' ')}`);
    console.log(`KUBECONFIG=${controlPlane.kubeconfig}`);
    return;
  }
  await step(say, `installing ${published.chart} ${published.version} (helm --wait: every pod ready)`, () =>
    installChart(helm, install),
  );
  await waitForWebhook(k);
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`
A one-node Kubernetes cluster runs on this machine with pilotlight installed by its Helm chart
(namespace knative-serving). The gateway listens on http://127.0.0.1:${GATEWAY_PORT} and routes
by the Host header; https://127.0.0.1:${GATEWAY_TLS_PORT} serves KIngress hosts with spec.tls by SNI.
Its OCI registry is https://${REGISTRY_HOST} (CA: ${caFile}); it holds ${published.image}
and the chart ${published.chart} ${published.version}.

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

/** cli/cluster/preflight.sh: the first thing this machine lacks to run a node, as an error. */
async function preflight(): Promise<void> {
  try {
    await run('bash', [join(import.meta.dirname, 'cluster', 'preflight.sh')]);
  } catch (error) {
    const reason = (error as { stdout?: string }).stdout?.trim() || (error as Error).message;
    throw new Error(`this machine cannot run the local cluster: ${reason}`);
  }
}

/** Installs the chart into a cluster someone else runs, touching nothing on this machine. */
async function installIntoConfiguredCluster(
  cluster: ConfiguredCluster,
  image: string | undefined,
  chartValues: Record<string, string>,
): Promise<void> {
  const match = image ? /^(.+):([^:/]+)$/.exec(image) : null;
  if (!match) {
    throw new Error(
      `installing into the configured cluster ${cluster.server} (context ${cluster.context}) needs --image REGISTRY/pilotlight:TAG: ` +
        'that cluster cannot see images built here (`pilotlight image push --to REGISTRY` publishes them). ' +
        'Pass --local to start a cluster on this machine instead.',
    );
  }
  const helm = await findHelm();
  await step(say, `installing pilotlight into ${cluster.server} (context ${cluster.context}) with ${image}`, () =>
    installChart(helm, {
      chart: CHART_DIR,
      values: { 'image.repository': match[1]!, 'image.tag': match[2]!, ...chartValues },
      context: cluster.context,
      wait: false,
    }),
  );
  say('installed in namespace knative-serving; its pods start once the cluster pulls the image');
  const kubeconfig = process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  console.log(`KUBECONFIG=${kubeconfig}`);
}

export async function down(argv: string[]): Promise<void> {
  const values = parseCommand(argv, {
    usage: 'pilotlight down [--state-dir DIR]',
    summary: 'Stops everything `up` started on this machine and undoes its changes to the host.',
    options: { 'state-dir': STATE_DIR },
  });
  if (!values) return;
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
  const values = parseCommand(argv, {
    usage: 'pilotlight status [--state-dir DIR]',
    summary: 'Shows the processes `up` started and whether the API server is ready; exits 1 when not all run.',
    options: { 'state-dir': STATE_DIR },
  });
  if (!values) return;
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
