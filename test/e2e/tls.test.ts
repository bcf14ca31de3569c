// HTTPS as Knative gives it, on the local cluster with pilotlight's certificate class
// (`pilotlight up --certificate-issuer`): under config-network external-domain-tls a new ksvc gets
// an https URL, curl reaches it through the gateway's TLS port trusting only the certificate
// class's CA, over HTTP/2 and HTTP/1.1, and plain HTTP is redirected once the Service asks for it;
// under cluster-local-domain-tls a cluster-local ksvc answers over TLS on the gateway's internal
// listener; a Secret rotated under k6 load changes the certificate served with no request failing.
// Uses the cluster already up in the default state directory if there is one (and runs `up` on it
// with the certificate class), else one of its own.
// Needs root (network setup, containerd); run with `npm run test:e2e`.
import { X509Certificate } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HELLOWORLD_IMAGE } from '../../cli/images/build.ts';
import { loadCertificateAuthority, type CertificateAuthority } from '../../lib/pki.ts';
import { GATEWAY, localCluster, repo, run, runningCluster, viaGateway, type LocalCluster } from './localCluster.ts';

const NAMESPACE = 'e2e-tls';
/** The gateway's external TLS listener as `up` publishes it. */
const GATEWAY_TLS_PORT = 31443;
const HOST = `hello.${NAMESPACE}.example.com`;
/** The gateway's namespace, where the chart puts it and the certificate class keeps its CA. */
const SYSTEM_NAMESPACE = 'knative-serving';
const LOCAL_HOST = `local.${NAMESPACE}.svc.cluster.local`;

let cluster: LocalCluster;
let scratch = '';
const kubectl = (args: string[], input?: string) => cluster.kubectl(args, input);

const service = (annotations: Record<string, string> = {}, name = 'hello', labels: Record<string, string> = {}) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name, namespace: NAMESPACE, annotations, labels },
  spec: {
    template: { spec: { containers: [{ image: HELLOWORLD_IMAGE, env: [{ name: 'TARGET', value: 'TLS' }] }] } },
  },
});

/** external- and cluster-local-domain-tls are cluster-wide: set for this file, and taken off again after it. */
const setDomainTls = (value: string | null) =>
  kubectl([
    'patch',
    'configmap',
    'config-network',
    '-n',
    'knative-serving',
    '--type',
    'merge',
    '-p',
    JSON.stringify({ data: { 'external-domain-tls': value, 'cluster-local-domain-tls': value } }),
  ]);

interface KnativeObject {
  metadata: { generation?: number; annotations?: Record<string, string> };
  status?: {
    observedGeneration?: number;
    url?: string;
    address?: { url?: string };
    conditions?: { type: string; status: string }[];
  };
}

async function readyWithUrl(scheme: string, annotation?: string, name = 'hello'): Promise<KnativeObject> {
  let latest: KnativeObject | undefined;
  await expect
    .poll(
      async () => {
        latest = JSON.parse(
          (await kubectl(['get', 'ksvc', name, '-n', NAMESPACE, '-o', 'json'])).stdout,
        ) as KnativeObject;
        const ready = latest.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        const current = latest.status?.observedGeneration === latest.metadata.generation;
        const annotated = annotation === undefined || latest.metadata.annotations?.[annotation] !== undefined;
        return ready && current && annotated && latest.status?.url?.startsWith(`${scheme}://`);
      },
      { timeout: 180_000, interval: 1000 },
    )
    .toBe(true);
  return latest!;
}

/** curl to `host` over TLS at address:port (resolved there, not through DNS), trusting only the class CA. */
const curlTls = (host: string, address: string, port: number, ...args: string[]) =>
  run(
    'curl',
    [
      '--silent',
      '--show-error',
      '--max-time',
      '30',
      '--cacert',
      caFile,
      '--resolve',
      `${host}:${port}:${address}`,
      '--write-out',
      '\n%{http_code} %{http_version}',
      ...args,
      `https://${host}:${port}/`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );

/** The certificate class's CA, as PEM in a file for curl and reopened to issue with. */
let caFile = '';
let ca: CertificateAuthority;
let k6 = '';

beforeAll(async () => {
  cluster = (await runningCluster()) ?? (await localCluster('pilotlight-e2e-tls'));
  const [tool] = await Promise.all([
    run('bash', [join(repo, 'hack', 'build-tool.sh'), 'k6'], { encoding: 'utf8', timeout: 1_800_000 }),
    cluster.pilotlight('up', '--local', '--certificate-issuer'),
  ]);
  k6 = tool.stdout.trim().split('\n').at(-1)!;
  scratch = mkdtempSync(join(tmpdir(), 'pilotlight-e2e-tls-'));
  // Left over by an earlier run on a shared cluster.
  await kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  await kubectl(['create', 'namespace', NAMESPACE]);
  await setDomainTls('Enabled');
}, 1_800_000);

/**
 * Reads the class's CA into caFile and ca, once. The controller creates it with the first
 * Certificate it issues, so on a fresh cluster it exists only once a ksvc has an https URL.
 */
async function readClassCa(): Promise<void> {
  if (caFile) return;
  const caSecret = JSON.parse(
    (await kubectl(['get', 'secret', 'pilotlight-certificate-ca', '-n', SYSTEM_NAMESPACE, '-o', 'json'])).stdout,
  ) as { data: Record<string, string> };
  const pem = (key: string) => Buffer.from(caSecret.data[key]!, 'base64').toString('utf8');
  const file = join(scratch, 'ca.crt');
  writeFileSync(file, pem('tls.crt'));
  ca = await loadCertificateAuthority({ certificate: pem('tls.crt'), privateKey: pem('tls.key') });
  caFile = file;
}

afterAll(async () => {
  if (cluster) {
    await kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => {});
    await setDomainTls(null).catch(() => {});
    await cluster.dispose();
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 120_000);

/** The serial number of the certificate the gateway's TLS port shows for HOST, verified against the class CA. */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: GATEWAY.host, port: GATEWAY_TLS_PORT, servername: HOST, ca: readFileSync(caFile), timeout: 10_000 },
      () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.destroy();
      },
    );
    socket.once('error', reject);
    socket.once('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

describe('external-domain-tls with pilotlight certificate class', () => {
  it('a new ksvc gets an https URL that curl reaches through the gateway, trusting the class CA', async () => {
    await kubectl(['apply', '-f', '-'], stringify(service()));
    const ksvc = await readyWithUrl('https');
    expect(ksvc.status?.url).toBe(`https://${HOST}`);
    await readClassCa();

    const h2 = await curlTls(HOST, GATEWAY.host, GATEWAY_TLS_PORT, '--http2');
    expect(h2.stdout).toBe('Hello TLS!\n\n200 2');
    const h1 = await curlTls(HOST, GATEWAY.host, GATEWAY_TLS_PORT, '--http1.1');
    expect(h1.stdout).toBe('Hello TLS!\n\n200 1.1');
    // The certificate is the class's, not any the machine trusts: without the CA curl refuses it.
    await expect(
      run('curl', [
        '--silent',
        '--resolve',
        `${HOST}:${GATEWAY_TLS_PORT}:${GATEWAY.host}`,
        `https://${HOST}:${GATEWAY_TLS_PORT}/`,
      ]),
    ).rejects.toMatchObject({ code: 60 });
  }, 300_000);

  it("the controller's role covers Certificates, Namespaces and, with the issuer on, Secrets", async () => {
    const { stdout } = await kubectl([
      'logs',
      '-n',
      'knative-serving',
      '-l',
      'app.kubernetes.io/component=controller',
      '--tail=-1',
    ]);
    expect(stdout.length).toBeGreaterThan(0);
    // RBAC's refusals only: a namespace being deleted also answers "forbidden", for no want of rights.
    expect(stdout.split('\n').filter((line) => / is forbidden: User .* cannot /.test(line))).toEqual([]);
    const canI = async (...request: string[]) =>
      (
        await kubectl([
          'auth',
          'can-i',
          ...request,
          '--as=system:serviceaccount:knative-serving:pilotlight-controller',
        ]).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))
      ).stdout.trim();
    expect(await canI('delete', 'certificates.networking.internal.knative.dev', '-n', NAMESPACE)).toBe('yes');
    expect(await canI('watch', 'namespaces')).toBe('yes');
    expect(await canI('get', 'secrets', '-n', NAMESPACE)).toBe('yes');
    expect(await canI('delete', 'secrets', '-n', NAMESPACE)).toBe('no');
  });

  it('plain HTTP answers 301 to https once the Service asks for http-protocol Redirected', async () => {
    const annotation = 'networking.knative.dev/http-protocol';
    await kubectl(['apply', '-f', '-'], stringify(service({ [annotation]: 'Redirected' })));
    await readyWithUrl('https', annotation);
    await expect.poll(async () => (await viaGateway(HOST)).status, { timeout: 60_000, interval: 500 }).toBe(301);
    expect((await viaGateway(HOST, '/path?q=1')).headers.location).toBe(`https://${HOST}/path?q=1`);
  }, 300_000);

  it("a cluster-local ksvc answers over TLS on the gateway's internal listener, its address https", async () => {
    const local = service({}, 'local', { 'networking.knative.dev/visibility': 'cluster-local' });
    await kubectl(['apply', '-f', '-'], stringify(local));
    const ksvc = await readyWithUrl('https', undefined, 'local');
    expect(ksvc.status?.url).toBe(`https://${LOCAL_HOST}`);
    await readClassCa();
    expect(ksvc.status?.address?.url).toBe(`https://${LOCAL_HOST}`);
    // <route>.<ns>.svc:443 is an ExternalName to gateway-internal:443; from the node, its ClusterIP.
    const internalIp = (
      await kubectl(['get', 'svc', 'gateway-internal', '-n', SYSTEM_NAMESPACE, '-o', 'jsonpath={.spec.clusterIP}'])
    ).stdout;
    for (const name of [LOCAL_HOST, `local.${NAMESPACE}.svc`])
      expect((await curlTls(name, internalIp, 443)).stdout).toBe('Hello TLS!\n\n200 2');
    // Not on the public side: the external TLS listener has no certificate for a cluster-local name.
    await expect(curlTls(LOCAL_HOST, GATEWAY.host, GATEWAY_TLS_PORT)).rejects.toMatchObject({ code: 35 });
  }, 300_000);

  it('rotating the Secret of a served host under k6 load changes the certificate served, with no failed request', async () => {
    await readClassCa();
    const before = await servedSerial();
    const route = JSON.parse((await kubectl(['get', 'route', 'hello', '-n', NAMESPACE, '-o', 'json'])).stdout) as {
      metadata: { uid: string };
    };
    // The Route's Certificate keeps its key pair in the Secret of its name (upstream's naming).
    const secret = `route-${route.metadata.uid}`;
    const rotated = await ca.issue({ commonName: HOST, dnsNames: [HOST], usage: 'server', validDays: 30 });

    const summaryPath = join(scratch, 'k6-rotation.json');
    const SECONDS = 20;
    const load = run(
      k6,
      [
        'run',
        '--quiet',
        '--no-usage-report',
        ...['-e', `GATEWAY_URL=https://${HOST}:${GATEWAY_TLS_PORT}/`],
        ...['-e', `RESOLVE=${HOST}=${GATEWAY.host}`],
        ...['-e', 'INSECURE_TLS=1', '-e', 'NEW_CONNECTIONS=1'],
        ...['-e', 'RATE=30', '-e', `DURATION=${SECONDS}s`, '-e', 'MAX_VUS=20'],
        ...['-e', `SUMMARY_JSON=${summaryPath}`],
        join(repo, 'test', 'e2e', 'gateway-split.js'),
      ],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
    );
    // Rotate a third of the way in, so handshakes run on both certificates.
    await sleep((SECONDS * 1000) / 3);
    const data = {
      'tls.crt': Buffer.from(rotated.certificate).toString('base64'),
      'tls.key': Buffer.from(rotated.privateKey).toString('base64'),
    };
    await kubectl(['patch', 'secret', secret, '-n', NAMESPACE, '--type', 'merge', '-p', JSON.stringify({ data })]);
    const rotatedSerial = new X509Certificate(rotated.certificate).serialNumber;
    await expect.poll(servedSerial, { timeout: 10_000, interval: 250 }).toBe(rotatedSerial);
    expect(rotatedSerial).not.toBe(before);

    const { stdout } = await load;
    console.log(stdout);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as {
      requests: number;
      unexpectedStatusRate: number;
      statuses: Record<string, number>;
    };
    expect(summary.unexpectedStatusRate).toBe(0);
    expect(summary.statuses).toEqual({ 200: summary.requests });
    // constant-arrival-rate: 30/s for 20 s, give or take the iterations k6 drops at the edges.
    expect(summary.requests).toBeGreaterThan(500);
    // The certificate class leaves a valid Secret it did not write alone: the rotation holds.
    expect(await servedSerial()).toBe(rotatedSerial);
  }, 300_000);
});
