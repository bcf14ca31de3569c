// HTTPS as Knative gives it, on the local cluster with pilotlight's certificate class
// (`pilotlight up --certificate-issuer`): under config-network external-domain-tls a new ksvc gets
// an https URL, curl reaches it through the gateway's TLS port trusting only the certificate
// class's CA, over HTTP/2 and HTTP/1.1, and plain HTTP is redirected once the Service asks for it.
// Needs root (network setup, containerd); run with `npm run test:e2e`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HELLOWORLD_IMAGE } from '../../cli/images/build.ts';
import { GATEWAY, localCluster, run, viaGateway, type LocalCluster } from './localCluster.ts';

const NAMESPACE = 'e2e-tls';
/** The gateway's external TLS listener as `up` publishes it. */
const GATEWAY_TLS_PORT = 31443;
const HOST = `hello.${NAMESPACE}.example.com`;

let cluster: LocalCluster;
let scratch = '';
const kubectl = (args: string[], input?: string) => cluster.kubectl(args, input);

const service = (annotations: Record<string, string> = {}) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name: 'hello', namespace: NAMESPACE, annotations },
  spec: {
    template: { spec: { containers: [{ image: HELLOWORLD_IMAGE, env: [{ name: 'TARGET', value: 'TLS' }] }] } },
  },
});

/** external-domain-tls is cluster-wide: set for this file, and taken off again after it. */
const setExternalDomainTls = (value: string | null) =>
  kubectl([
    'patch',
    'configmap',
    'config-network',
    '-n',
    'knative-serving',
    '--type',
    'merge',
    '-p',
    JSON.stringify({ data: { 'external-domain-tls': value } }),
  ]);

interface KnativeObject {
  metadata: { generation?: number; annotations?: Record<string, string> };
  status?: { observedGeneration?: number; url?: string; conditions?: { type: string; status: string }[] };
}

async function readyWithUrl(scheme: string, annotation?: string): Promise<KnativeObject> {
  let latest: KnativeObject | undefined;
  await expect
    .poll(
      async () => {
        latest = JSON.parse(
          (await kubectl(['get', 'ksvc', 'hello', '-n', NAMESPACE, '-o', 'json'])).stdout,
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

/** curl through the gateway's TLS port, the host resolved to it, trusting only `ca`. */
const curl = (ca: string, ...args: string[]) =>
  run(
    'curl',
    [
      '--silent',
      '--show-error',
      '--max-time',
      '30',
      '--cacert',
      ca,
      '--resolve',
      `${HOST}:${GATEWAY_TLS_PORT}:${GATEWAY.host}`,
      '--write-out',
      '\n%{http_code} %{http_version}',
      ...args,
      `https://${HOST}:${GATEWAY_TLS_PORT}/`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );

beforeAll(async () => {
  cluster = await localCluster('pilotlight-e2e-tls');
  await cluster.pilotlight('up', '--local', '--certificate-issuer');
  scratch = mkdtempSync(join(tmpdir(), 'pilotlight-e2e-tls-'));
  await kubectl(['create', 'namespace', NAMESPACE]);
  await setExternalDomainTls('Enabled');
}, 1_800_000);

afterAll(async () => {
  if (cluster) {
    await kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => {});
    await setExternalDomainTls(null).catch(() => {});
    await cluster.dispose();
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 120_000);

describe('external-domain-tls with pilotlight certificate class', () => {
  it('a new ksvc gets an https URL that curl reaches through the gateway, trusting the class CA', async () => {
    await kubectl(['apply', '-f', '-'], stringify(service()));
    const ksvc = await readyWithUrl('https');
    expect(ksvc.status?.url).toBe(`https://${HOST}`);

    const caSecret = JSON.parse(
      (await kubectl(['get', 'secret', 'pilotlight-certificate-ca', '-n', 'knative-serving', '-o', 'json'])).stdout,
    ) as { data: Record<string, string> };
    const ca = join(scratch, 'ca.crt');
    writeFileSync(ca, Buffer.from(caSecret.data['tls.crt']!, 'base64'));

    const h2 = await curl(ca, '--http2');
    expect(h2.stdout).toBe('Hello TLS!\n\n200 2');
    const h1 = await curl(ca, '--http1.1');
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
});
