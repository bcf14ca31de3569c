// etcd + kube-apiserver on loopback, with a private CA and token auth: the control plane for
// integration tests (`pilotlight up --control-plane-only`) and the core of the local cluster.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { createCertificateAuthority, createSigningKey } from '../../lib/pki.ts';
import { ensureBinaries } from './binaries.ts';
import { freePort, isRunning, recordedProcesses, startProcess, stopProcesses, tail } from './processes.ts';

export interface ControlPlaneOptions {
  stateDir: string;
  /** Skip fsync in etcd: for throw-away test clusters. */
  ephemeral?: boolean;
  /** Serve a node at this address: the API server listens there and authorizes kubelets. */
  nodeIp?: string;
  /** More identities the API server accepts by static bearer token (a test's credential plugin's). */
  tokenUsers?: { token: string; user: string; groups: string[] }[];
  log?: (line: string) => void;
}

export interface ControlPlane {
  server: string;
  token: string;
  caCertificate: string;
  kubeconfig: string;
  /** Kubeconfig per node component, when started for a node. */
  componentKubeconfigs?: Record<NodeComponent, string>;
}

export type NodeComponent = 'kubelet' | 'kube-controller-manager' | 'kube-scheduler' | 'kube-proxy';

/** Static-token identities that the bootstrap RBAC roles (and the Node authorizer) already know. */
const COMPONENT_USERS: Record<NodeComponent, { user: string; groups: string[] }> = {
  kubelet: { user: 'system:node:pl-node', groups: ['system:nodes'] },
  'kube-controller-manager': { user: 'system:kube-controller-manager', groups: [] },
  'kube-scheduler': { user: 'system:kube-scheduler', groups: [] },
  'kube-proxy': { user: 'system:kube-proxy', groups: [] },
};

export const NODE_NAME = 'pl-node';

const SERVICE_CIDR = '10.96.0.0/16';
const PROCESS_ORDER = ['kube-apiserver', 'etcd'];

const controlPlaneFile = (stateDir: string) => join(stateDir, 'control-plane.json');

/** Starts etcd and the API server, or returns the running ones recorded in stateDir. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { stateDir } = options;
  const log = options.log ?? (() => {});
  const running = await runningControlPlane(stateDir);
  if (running) {
    log(`control plane already running at ${running.server}`);
    return running;
  }
  await stopProcesses(stateDir, PROCESS_ORDER);

  const binDir = await ensureBinaries(['kube-apiserver', 'etcd']);
  const pkiDir = join(stateDir, 'pki');
  mkdirSync(pkiDir, { recursive: true });

  const ca = await createCertificateAuthority('pilotlight-ca');
  const serving = await ca.issue({
    commonName: 'kube-apiserver',
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
    ipAddresses: ['127.0.0.1', '10.96.0.1', ...(options.nodeIp ? [options.nodeIp] : [])],
    usage: 'server',
  });
  const serviceAccountKey = await createSigningKey();
  const token = randomBytes(24).toString('hex');
  const componentTokens = Object.fromEntries(
    (Object.keys(COMPONENT_USERS) as NodeComponent[]).map((c) => [c, randomBytes(24).toString('hex')]),
  ) as Record<NodeComponent, string>;
  const files = {
    caCert: join(pkiDir, 'ca.crt'),
    caKey: join(pkiDir, 'ca.key'),
    servingCert: join(pkiDir, 'apiserver.crt'),
    servingKey: join(pkiDir, 'apiserver.key'),
    saKey: join(pkiDir, 'sa.key'),
    saPub: join(pkiDir, 'sa.pub'),
    tokens: join(pkiDir, 'tokens.csv'),
  };
  writeFileSync(files.caCert, ca.certificate);
  writeFileSync(files.caKey, ca.privateKey, { mode: 0o600 });
  writeFileSync(files.servingCert, serving.certificate);
  writeFileSync(files.servingKey, serving.privateKey, { mode: 0o600 });
  writeFileSync(files.saKey, serviceAccountKey.privateKey, { mode: 0o600 });
  writeFileSync(files.saPub, serviceAccountKey.publicKey);
  const tokenLines = [`${token},pilotlight-admin,pilotlight-admin,"system:masters"`];
  if (options.nodeIp) {
    for (const [component, identity] of Object.entries(COMPONENT_USERS) as [
      NodeComponent,
      (typeof COMPONENT_USERS)[NodeComponent],
    ][]) {
      tokenLines.push(`${componentTokens[component]},${identity.user},${identity.user},"${identity.groups.join(',')}"`);
    }
  }
  for (const extra of options.tokenUsers ?? [])
    tokenLines.push(`${extra.token},${extra.user},${extra.user},"${extra.groups.join(',')}"`);
  writeFileSync(files.tokens, `${tokenLines.join('\n')}\n`, { mode: 0o600 });
  const kubeletClient = options.nodeIp
    ? await ca.issue({
        commonName: 'kube-apiserver-kubelet-client',
        organizations: ['system:masters'],
        usage: 'client',
      })
    : undefined;
  if (kubeletClient) {
    writeFileSync(join(pkiDir, 'kubelet-client.crt'), kubeletClient.certificate);
    writeFileSync(join(pkiDir, 'kubelet-client.key'), kubeletClient.privateKey, { mode: 0o600 });
  }

  const etcdPort = await freePort();
  const etcdPeerPort = await freePort();
  const apiPort = await freePort();
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcdDataDir = join(stateDir, 'etcd');
  rmSync(etcdDataDir, { recursive: true, force: true });

  log(`starting etcd on ${etcdUrl}`);
  const etcd = startProcess(stateDir, 'etcd', join(binDir, 'etcd'), [
    '--name=pilotlight',
    `--data-dir=${etcdDataDir}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=pilotlight=http://127.0.0.1:${etcdPeerPort}`,
    '--log-level=warn',
    ...(options.ephemeral ? ['--unsafe-no-fsync'] : []),
  ]);
  await waitFor(
    'etcd',
    etcd.log,
    async () => (await fetch(`${etcdUrl}/health`)).ok,
    30_000,
    () => isRunning(etcd.pid, 'etcd'),
  );

  const address = options.nodeIp ?? '127.0.0.1';
  const server = `https://${address}:${apiPort}`;
  log(`starting kube-apiserver on ${server}`);
  const apiserver = startProcess(stateDir, 'kube-apiserver', join(binDir, 'kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${apiPort}`,
    `--tls-cert-file=${files.servingCert}`,
    `--tls-private-key-file=${files.servingKey}`,
    `--client-ca-file=${files.caCert}`,
    `--token-auth-file=${files.tokens}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${files.saPub}`,
    `--service-account-signing-key-file=${files.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--allow-privileged=true',
    '--enable-priority-and-fairness=false',
    '--profiling=false',
    ...(options.nodeIp
      ? [
          '--authorization-mode=Node,RBAC',
          '--enable-admission-plugins=NodeRestriction',
          `--kubelet-client-certificate=${join(pkiDir, 'kubelet-client.crt')}`,
          `--kubelet-client-key=${join(pkiDir, 'kubelet-client.key')}`,
          '--kubelet-preferred-address-types=InternalIP',
        ]
      : [
          '--authorization-mode=RBAC',
          // No controller-manager runs to create the default ServiceAccount, and nothing serves
          // the loopback address as the `kubernetes` Service endpoint.
          '--disable-admission-plugins=ServiceAccount',
          '--endpoint-reconciler-type=none',
        ]),
  ]);
  const probe = () => apiGet(server, token, ca.certificate, '/readyz').then((r) => r.status === 200);
  await waitFor('kube-apiserver', apiserver.log, probe, 120_000, () => isRunning(apiserver.pid, 'kube-apiserver'));

  const kubeconfig = join(stateDir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(server, token, ca.certificate), { mode: 0o600 });
  const controlPlane: ControlPlane = { server, token, caCertificate: ca.certificate, kubeconfig };
  if (options.nodeIp) {
    controlPlane.componentKubeconfigs = Object.fromEntries(
      (Object.keys(COMPONENT_USERS) as NodeComponent[]).map((component) => {
        const path = join(stateDir, `kubeconfig-${component}`);
        writeFileSync(path, kubeconfigYaml(server, componentTokens[component], ca.certificate), { mode: 0o600 });
        return [component, path];
      }),
    ) as Record<NodeComponent, string>;
  }
  writeFileSync(controlPlaneFile(stateDir), JSON.stringify(controlPlane, null, 2), { mode: 0o600 });
  log(`control plane ready at ${server}`);
  return controlPlane;
}

export async function stopControlPlane(stateDir: string, options: { keepState?: boolean } = {}): Promise<string[]> {
  const stopped = await stopProcesses(stateDir, PROCESS_ORDER);
  if (!options.keepState) {
    for (const entry of [
      'etcd',
      'pki',
      'kubeconfig',
      'control-plane.json',
      ...Object.keys(COMPONENT_USERS).map((c) => `kubeconfig-${c}`),
    ]) {
      rmSync(join(stateDir, entry), { recursive: true, force: true });
    }
  }
  return stopped;
}

/** The control plane recorded in stateDir, if its processes run and the API server is ready. */
export async function runningControlPlane(stateDir: string): Promise<ControlPlane | undefined> {
  if (!existsSync(controlPlaneFile(stateDir))) return undefined;
  const processes = recordedProcesses(stateDir).filter((p) => PROCESS_ORDER.includes(p.name));
  if (processes.length !== PROCESS_ORDER.length || !processes.every((p) => isRunning(p.pid, p.binary)))
    return undefined;
  const recorded = JSON.parse(readFileSync(controlPlaneFile(stateDir), 'utf8')) as ControlPlane;
  const ready = await apiGet(recorded.server, recorded.token, recorded.caCertificate, '/readyz').then(
    (r) => r.status === 200,
    () => false,
  );
  return ready ? recorded : undefined;
}

/** Whether the whole local cluster of stateDir runs: every process it recorded, and a ready API server. */
export async function clusterRunning(stateDir: string): Promise<boolean> {
  const processes = recordedProcesses(stateDir);
  return (
    processes.length > 0 &&
    processes.every((p) => isRunning(p.pid, p.binary)) &&
    (await runningControlPlane(stateDir)) !== undefined
  );
}

export function kubeconfigYaml(server: string, token: string, caCertificate: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'pilotlight',
        cluster: { server, 'certificate-authority-data': Buffer.from(caCertificate).toString('base64') },
      },
    ],
    users: [{ name: 'pilotlight-admin', user: { token } }],
    contexts: [{ name: 'pilotlight', context: { cluster: 'pilotlight', user: 'pilotlight-admin' } }],
    'current-context': 'pilotlight',
  });
}

function apiGet(server: string, token: string, ca: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5000 },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => {
            body += c;
          })
          .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(
  name: string,
  logFile: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  alive: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`${name} exited during start-up; last lines of ${logFile}:\n${tail(logFile)}`);
    if (await ready().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${name} was not ready within ${timeoutMs / 1000} s; last lines of ${logFile}:\n${tail(logFile)}`);
}
