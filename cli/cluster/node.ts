// One node on this machine: containerd + runc + the CNI bridge from Debian, the kubelet,
// kube-proxy, and the controller-manager and scheduler it needs. See cli/cluster/README.md for
// what each setting works around.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { cacheRoot } from './paths.ts';
import { CLUSTER_DOMAIN, DNS_SERVICE_IP } from './dns.ts';
import { NODE_NAME, type ControlPlane } from './controlPlane.ts';
import { freePort, isRunning, recordedProcesses, startProcess, stopProcesses, tail } from './processes.ts';
import { writeOciImage } from '../images/oci.ts';
import { pushOciArchive } from '../images/push.ts';
import type { RegistryClient } from '../../lib/oci/client.ts';
import { containerdHostsToml } from './registry.ts';
import { step } from '../progress.ts';

const run = promisify(execFile);

export const NODE_IP = '10.245.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.96.0.0/16';
const SERVICE_BRIDGE = 'pl-svc';
const CNI_NETWORK = 'pilotlight';
/** The node's processes, in the order they stop (containerd last, once its tasks are gone). */
const NODE_PROCESSES = ['kube-proxy', 'kubelet', 'kube-scheduler', 'kube-controller-manager', 'containerd'];
/**
 * The node's OCI registry (cli/cluster/registry.ts), named by the node address: not a *.local
 * name, so Knative resolves its tags to digests, and reachable from the host and from every pod.
 */
export const REGISTRY_HOST = `${NODE_IP}:5000`;
/** The sandbox image, pulled from the registry like every other. */
export const PAUSE_IMAGE = `${REGISTRY_HOST}/pilotlight/pause:1`;

const REQUIRED: { path: string; pkg: string }[] = [
  { path: '/usr/bin/containerd', pkg: 'containerd' },
  { path: '/usr/bin/ctr', pkg: 'containerd' },
  { path: '/usr/sbin/runc', pkg: 'runc' },
  { path: '/usr/lib/cni/bridge', pkg: 'containernetworking-plugins' },
  { path: '/usr/sbin/iptables', pkg: 'iptables' },
  { path: '/usr/sbin/conntrack', pkg: 'conntrack' },
  { path: '/usr/bin/gcc', pkg: 'gcc' },
];

/** The Debian packages a node needs that are not installed. */
export function missingNodePackages(): string[] {
  return [...new Set(REQUIRED.filter((r) => !existsSync(r.path)).map((r) => r.pkg))];
}

/** Installs missing node packages with apt-get when we may; otherwise says exactly what is missing. */
export async function ensureNodePackages(log: (line: string) => void): Promise<void> {
  const missing = missingNodePackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`a node needs these Debian packages: ${missing.join(' ')} (run as root, or apt-get install them)`);
  }
  await step(log, 'apt-get update', () => sh('apt-get', ['update', '-qq']));
  await step(log, `apt-get install ${missing.join(' ')}`, () =>
    run('apt-get', ['install', '-y', '-qq', ...missing], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
  const still = missingNodePackages();
  if (still.length > 0) throw new Error(`apt-get did not install: ${still.join(' ')}`);
}

async function sh(command: string, args: string[], options: { ignoreFailure?: boolean } = {}): Promise<string> {
  try {
    return (await run(command, args)).stdout;
  } catch (error) {
    if (options.ignoreFailure) return '';
    throw new Error(
      `${command} ${args.join(' ')} failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`,
    );
  }
}

/** The node address on the loopback and a dead-end route for Service IPs that kube-proxy did not translate. */
export async function prepareHostNetwork(): Promise<void> {
  const addresses = await sh('ip', ['-o', 'addr', 'show', 'dev', 'lo']);
  if (!addresses.includes(`${NODE_IP}/32`)) await sh('ip', ['addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
  if (!(await sh('ip', ['-o', 'link', 'show', SERVICE_BRIDGE], { ignoreFailure: true }))) {
    await sh('ip', ['link', 'add', SERVICE_BRIDGE, 'type', 'bridge']);
  }
  await sh('ip', ['link', 'set', SERVICE_BRIDGE, 'up']);
  if (!(await sh('ip', ['route', 'show', SERVICE_CIDR])).trim())
    await sh('ip', ['route', 'add', SERVICE_CIDR, 'dev', SERVICE_BRIDGE]);
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
}

/** config_path: containerd reads each registry's hosts.toml (server, CA) from <dir>/certs.d/<host:port>/. */
function containerdConfig(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # Root here may not lower oom_score_adj (no CAP_SYS_RESOURCE); the kubelet asks -998 for sandboxes.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${dir}/certs.d"
`;
}

const cniConfig = JSON.stringify(
  {
    cniVersion: '1.0.0',
    name: CNI_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  },
  null,
  2,
);

/** ClusterFirst pods get CoreDNS (cli/cluster/dns.ts) as their nameserver and the cluster's search path. */
export function kubeletConfig(containerdSocket: string, clientCaFile: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: 10250
readOnlyPort: 0
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${containerdSocket}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${clientCaFile}}
authorization: {mode: Webhook}
clusterDomain: ${CLUSTER_DOMAIN}
clusterDNS: [${DNS_SERVICE_IP}]
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: 100Mi, nodefs.available: "1%", imagefs.available: "1%"}
serializeImagePulls: false
maxPods: 110
`;
}

export const ctr = (socket: string, ...args: string[]) => sh('ctr', ['--address', socket, '-n', 'k8s.io', ...args]);

/** The sandbox image: a tiny pause program of our own, built once and cached. */
async function pauseImage(): Promise<string> {
  const dir = join(cacheRoot, 'images');
  const archive = join(dir, 'pause-1.tar');
  if (existsSync(archive)) return archive;
  const root = join(dir, 'pause-root');
  mkdirSync(root, { recursive: true });
  await sh('gcc', ['-static', '-Os', '-o', join(root, 'pause'), join(import.meta.dirname, '..', 'images', 'pause.c')]);
  await writeOciImage({ name: PAUSE_IMAGE, layers: [root], config: { entrypoint: ['/pause'] } }, `${archive}.tmp`);
  await sh('mv', [`${archive}.tmp`, archive]);
  return archive;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, log: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${what} within ${timeoutMs / 1000} s; last lines of ${log}:\n${tail(log)}`);
}

export interface NodeOptions {
  stateDir: string;
  binDir: string;
  controlPlane: ControlPlane;
  /** A client of the node's registry (REGISTRY_HOST), which the sandbox image is pushed to. */
  registry: RegistryClient;
  log: (line: string) => void;
}

/** Starts the node; the caller has run ensureNodePackages and prepareHostNetwork first. */
export async function startNode({ stateDir, binDir, controlPlane, registry, log }: NodeOptions): Promise<void> {
  const kubeconfigs = controlPlane.componentKubeconfigs;
  if (!kubeconfigs)
    throw new Error(
      'the running control plane was started without a node (--control-plane-only); run `pilotlight down` first',
    );
  const nodeReady = async () => {
    const { stdout } = await run(
      join(binDir, 'kubectl'),
      ['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'],
      { env: { ...process.env, KUBECONFIG: controlPlane.kubeconfig } },
    );
    return stdout.trim() === 'True';
  };
  const containerdDir = join(stateDir, 'containerd');
  const socket = join(containerdDir, 'containerd.sock');
  const caFile = join(stateDir, 'pki', 'ca.crt');
  const kubeletDir = join(stateDir, 'kubelet');
  const files: [string, string][] = [
    [join(containerdDir, 'config.toml'), containerdConfig(containerdDir)],
    [join(containerdDir, 'cni', '10-pilotlight.conflist'), cniConfig],
    [join(containerdDir, 'certs.d', REGISTRY_HOST, 'hosts.toml'), containerdHostsToml(REGISTRY_HOST, caFile)],
    [join(kubeletDir, 'config.yaml'), kubeletConfig(socket, caFile)],
  ];
  // `up` on a running cluster (to install another build) keeps a whole, Ready node started with
  // these same files: starting its processes again would leave the first ones running
  // unrecorded, holding the kubelet's ports and containerd's socket. Any other node is stopped
  // and started again as a whole.
  const recorded = recordedProcesses(stateDir).filter((p) => NODE_PROCESSES.includes(p.name));
  const whole = recorded.length === NODE_PROCESSES.length && recorded.every((p) => isRunning(p.pid, p.binary));
  const sameFiles = files.every(([path, text]) => existsSync(path) && readFileSync(path, 'utf8') === text);
  if (whole && sameFiles && (await nodeReady().catch(() => false))) {
    log(`node ${NODE_NAME} is already running`);
    return;
  }
  await stopProcesses(stateDir, NODE_PROCESSES);
  for (const [path, text] of files) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  log('starting containerd');
  const containerd = startProcess(stateDir, 'containerd', '/usr/bin/containerd', [
    '--config',
    join(containerdDir, 'config.toml'),
  ]);
  await waitFor(
    'containerd did not answer',
    async () => isRunning(containerd.pid, 'containerd') && (await ctr(socket, 'version')) !== '',
    20_000,
    containerd.log,
  );
  // containerd pulls it from the registry when the first pod starts.
  await pushOciArchive(registry, await pauseImage(), PAUSE_IMAGE);

  log('starting kube-controller-manager, kube-scheduler, kubelet and kube-proxy');
  startProcess(stateDir, 'kube-controller-manager', join(binDir, 'kube-controller-manager'), [
    `--kubeconfig=${kubeconfigs['kube-controller-manager']}`,
    `--authentication-kubeconfig=${kubeconfigs['kube-controller-manager']}`,
    `--authorization-kubeconfig=${kubeconfigs['kube-controller-manager']}`,
    `--service-account-private-key-file=${join(stateDir, 'pki', 'sa.key')}`,
    `--root-ca-file=${caFile}`,
    '--use-service-account-credentials',
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${await freePort()}`,
  ]);
  startProcess(stateDir, 'kube-scheduler', join(binDir, 'kube-scheduler'), [
    `--kubeconfig=${kubeconfigs['kube-scheduler']}`,
    `--authentication-kubeconfig=${kubeconfigs['kube-scheduler']}`,
    `--authorization-kubeconfig=${kubeconfigs['kube-scheduler']}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${await freePort()}`,
  ]);
  const kubelet = startProcess(stateDir, 'kubelet', join(binDir, 'kubelet'), [
    `--config=${join(kubeletDir, 'config.yaml')}`,
    `--kubeconfig=${kubeconfigs.kubelet}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NODE_IP}`,
    `--root-dir=${join(kubeletDir, 'root')}`,
    `--cert-dir=${join(kubeletDir, 'pki')}`,
  ]);
  startProcess(stateDir, 'kube-proxy', join(binDir, 'kube-proxy'), [
    `--kubeconfig=${kubeconfigs['kube-proxy']}`,
    `--hostname-override=${NODE_NAME}`,
    '--cluster-cidr=10.244.0.0/16',
    '--proxy-mode=iptables',
    // The default 1 s between syncs: a pod's death reaches a Service's rules up to a second after
    // that of the pod's other Services (the gateway's internal and external ones change together),
    // new connections meanwhile refused. 100 ms keeps churn from pinning a core (cli/cluster/README.md).
    '--iptables-min-sync-period=100ms',
    '--conntrack-max-per-core=0',
    '--metrics-bind-address=127.0.0.1:10249',
    '--healthz-bind-address=127.0.0.1:10256',
  ]);
  await waitFor('the node did not turn Ready', nodeReady, 120_000, kubelet.log);
  log(`node ${NODE_NAME} is Ready`);
}

/**
 * Stops the node and undoes what it changed on the host: containers, CNI rules and network
 * namespaces, kube-proxy's rules, interfaces, routes, addresses and mounts.
 */
export async function stopNode(stateDir: string, binDir: string | undefined): Promise<string[]> {
  // A state directory that never had a node (`up --control-plane-only`) leaves the host alone:
  // the addresses, bridges and rules below may belong to a node another state directory runs.
  const hadNode = recordedProcesses(stateDir).some((p) => NODE_PROCESSES.includes(p.name));
  if (!hadNode && !existsSync(join(stateDir, 'containerd'))) return [];
  const socket = join(stateDir, 'containerd', 'containerd.sock');
  const stopped = await stopProcesses(stateDir, NODE_PROCESSES.slice(0, -1));
  if (existsSync(socket)) {
    const tasks = (await ctr(socket, 'tasks', 'ls', '-q').catch(() => '')).split('\n').filter(Boolean);
    for (const task of tasks) await ctr(socket, 'tasks', 'kill', '-s', 'SIGKILL', task).catch(() => '');
    await sleep(500);
    for (const task of tasks) await ctr(socket, 'tasks', 'rm', '-f', task).catch(() => '');
    const containers = (await ctr(socket, 'containers', 'ls', '-q').catch(() => '')).split('\n').filter(Boolean);
    for (const container of containers) await ctr(socket, 'containers', 'rm', container).catch(() => '');
  }
  stopped.push(...(await stopProcesses(stateDir, ['containerd'])));
  if (binDir) await sh(join(binDir, 'kube-proxy'), ['--cleanup'], { ignoreFailure: true });
  await removeCniLeftovers();
  await removeChains('KUBE-');
  await sh('ip', ['link', 'del', 'cni0'], { ignoreFailure: true });
  await sh('ip', ['link', 'del', SERVICE_BRIDGE], { ignoreFailure: true });
  await sh('ip', ['addr', 'del', `${NODE_IP}/32`, 'dev', 'lo'], { ignoreFailure: true });
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(stateDir))
    .sort()
    .reverse();
  for (const mount of mounts) await sh('umount', ['-l', mount], { ignoreFailure: true });
  for (const dir of ['containerd', 'kubelet']) rmSync(join(stateDir, dir), { recursive: true, force: true });
  return stopped;
}

/**
 * Chains whose names start with prefix, in every table, with the rules in built-in chains that
 * jump to them: the kubelet's (KUBE-FIREWALL, canaries, which `kube-proxy --cleanup` leaves) and
 * the CNI plugins' (per-pod NAT, hostPort DNAT).
 */
async function removeChains(prefix: string): Promise<void> {
  for (const table of ['filter', 'nat', 'mangle']) {
    const rules = (await sh('iptables-save', ['-t', table], { ignoreFailure: true })).split('\n');
    const jump = new RegExp(`^-A [A-Z]+ .*-j ${prefix}`);
    for (const line of rules.filter((l) => jump.test(l) && !l.startsWith(`-A ${prefix}`))) {
      await sh('sh', ['-c', `iptables -t ${table} ${line.replace(/^-A/, '-D')}`], { ignoreFailure: true });
    }
    const chains = rules.filter((l) => l.startsWith(`:${prefix}`)).map((l) => l.slice(1).split(' ')[0]!);
    for (const chain of chains) await sh('iptables', ['-t', table, '-F', chain], { ignoreFailure: true });
    for (const chain of chains) await sh('iptables', ['-t', table, '-X', chain], { ignoreFailure: true });
  }
}

/** What the CNI plugins leave when pods die without a CNI DEL: chains, netns, IPAM files. */
async function removeCniLeftovers(): Promise<void> {
  await removeChains('CNI-');
  const namespaces = existsSync('/var/run/netns')
    ? readdirSync('/var/run/netns').filter((n) => n.startsWith('cni-'))
    : [];
  for (const ns of namespaces) await sh('ip', ['netns', 'del', ns], { ignoreFailure: true });
  rmSync(`/var/lib/cni/networks/${CNI_NETWORK}`, { recursive: true, force: true });
}
