// An OCI registry on the node, the one users run (CNCF Distribution's `registry`), so images reach
// the cluster the way they do in production: pushed to a registry, pulled by containerd, and
// resolved from tag to digest by the controller. It serves real TLS with a certificate of the
// cluster's CA: containerd trusts that CA through its registry hosts config, and pods trust it
// because Kubernetes mounts it into each of them (the service account's ca.crt), which is the
// bundle Knative's tag resolver adds to its trust too.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { loadCertificateAuthority } from '../../lib/pki.ts';
import { isRunning, recordedProcesses, startProcess, stopProcesses, tail } from './processes.ts';

const PROCESS = 'registry';
const registryDir = (stateDir: string) => join(stateDir, 'registry');

/** Distribution's configuration: filesystem storage, TLS, no access log (containerd pulls are many). */
export function registryConfig(options: {
  address: string;
  storageDir: string;
  certificateFile: string;
  keyFile: string;
}): string {
  return stringify({
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: options.storageDir }, delete: { enabled: true } },
    http: { addr: options.address, tls: { certificate: options.certificateFile, key: options.keyFile } },
  });
}

/** containerd's hosts.toml for the registry (its `config_path` directory, one folder per host:port). */
export function containerdHostsToml(host: string, caFile: string): string {
  return `server = "https://${host}"

[host."https://${host}"]
  capabilities = ["pull", "resolve"]
  ca = "${caFile}"
`;
}

/** GET /v2/ over TLS trusting only caCertificate; 200 once the registry serves. */
export function pingRegistry(host: string, caCertificate: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`https://${host}/v2/`, { ca: caCertificate, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts the registry on host (address:port) with a serving certificate issued by the cluster CA
 * in stateDir/pki, storing images under stateDir/registry; a registry already running is kept.
 */
export async function startRegistry(options: {
  stateDir: string;
  host: string;
  binary: string;
  log: (line: string) => void;
}): Promise<void> {
  const { stateDir, host } = options;
  const caCertificate = readFileSync(join(stateDir, 'pki', 'ca.crt'), 'utf8');
  const existing = recordedProcesses(stateDir).find((p) => p.name === PROCESS);
  if (existing && isRunning(existing.pid, existing.binary)) {
    if ((await pingRegistry(host, caCertificate).catch(() => 0)) === 200) return;
    await stopProcesses(stateDir, [PROCESS]);
  }
  const dir = registryDir(stateDir);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const ca = await loadCertificateAuthority({
    certificate: caCertificate,
    privateKey: readFileSync(join(stateDir, 'pki', 'ca.key'), 'utf8'),
  });
  const address = host.slice(0, host.lastIndexOf(':'));
  const serving = await ca.issue({ commonName: 'pilotlight-registry', ipAddresses: [address], usage: 'server' });
  const files = { certificateFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  writeFileSync(files.certificateFile, serving.certificate);
  writeFileSync(files.keyFile, serving.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'config.yml'), registryConfig({ address: host, storageDir: join(dir, 'data'), ...files }));
  options.log(`starting the OCI registry on https://${host}`);
  // Distribution exports traces over OTLP when asked; nothing here collects them.
  const registry = startProcess(stateDir, PROCESS, options.binary, ['serve', join(dir, 'config.yml')], {
    OTEL_TRACES_EXPORTER: 'none',
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!isRunning(registry.pid, options.binary))
      throw new Error(`the registry exited during start-up; last lines of ${registry.log}:\n${tail(registry.log)}`);
    if ((await pingRegistry(host, caCertificate).catch(() => 0)) === 200) return;
    await sleep(100);
  }
  throw new Error(`the registry did not answer within 20 s; last lines of ${registry.log}:\n${tail(registry.log)}`);
}

/** Stops the registry and removes what it stored: a new cluster starts with an empty registry. */
export async function stopRegistry(stateDir: string): Promise<string[]> {
  const stopped = await stopProcesses(stateDir, [PROCESS]);
  rmSync(registryDir(stateDir), { recursive: true, force: true });
  return stopped;
}
