// The Helm chart lints, renders, and every object it renders is accepted by the real API server.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BackendPorts } from '../../../controllers/serverlessservice/resources.ts';
import { ensureHelm } from '../../../hack/cluster/operator.ts';
import { kubectl } from '../../support/kube.ts';

const run = promisify(execFile);
const chart = join(import.meta.dirname, '..', '..', '..', 'charts', 'pilotlight');

describe('charts/pilotlight', () => {
  let helm: string;
  // On empty caches helm is built from the Go module proxy first: minutes, not part of the test.
  beforeAll(async () => {
    helm = await ensureHelm();
  }, 20 * 60_000);

  it('passes helm lint and a server-side dry run of everything it renders', async () => {
    const lint = await run(helm, ['lint', chart, '--set', 'image.tag=test']);
    expect(lint.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const { stdout: manifests } = await run(
      helm,
      ['template', 'pilotlight', chart, '--namespace', 'knative-serving', '--set', 'image.tag=test'],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const kinds = [...manifests.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
    expect(new Set(kinds)).toEqual(
      new Set([
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'ConfigMap',
        'Service',
        'Deployment',
        'PodDisruptionBudget',
      ]),
    );
    const dryRun = await kubectl(['apply', '--dry-run=server', '-n', 'knative-serving', '-f', '-'], manifests);
    expect(dryRun.stderr).toBe('');
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toMatch(/deployment.apps\/activator created \(server dry run\)/);
  });

  it('gives the gateway a private load balancer whose port 80 is its internal listener', async () => {
    // Each Route's Service is an ExternalName to this address; callers dial port 80 and must
    // land where cluster-local hosts are served.
    const { stdout } = await run(
      helm,
      ['template', 'pilotlight', chart, '--namespace', 'knative-serving', '--set', 'image.tag=test'],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const objects = parseAllDocuments(stdout)
      .map((d) => d.toJS() as any)
      .filter(Boolean);
    const gateway = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway');
    const args: string[] = gateway.spec.template.spec.containers[0].args;
    const privateAddress = args.find((a) => a.startsWith('--private-address='))!.split('=')[1]!;
    const [name, namespace] = privateAddress.split('.');
    const service = objects.find(
      (o) => o.kind === 'Service' && o.metadata.name === name && o.metadata.namespace === namespace,
    );
    expect(service?.spec.ports.find((p: any) => p.port === 80)?.targetPort).toBe('http-internal');
  });

  // The KIngress conformance dials the public Service's port 443 (as a nodePort) for https URLs.
  it("gives the gateway's public Service a port 443 on the TLS listener", async () => {
    const { stdout } = await run(
      helm,
      ['template', 'pilotlight', chart, '--namespace', 'knative-serving', '--set', 'image.tag=test'],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const objects = parseAllDocuments(stdout)
      .map((d) => d.toJS() as any)
      .filter(Boolean);
    const gateway = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway');
    const container = gateway.spec.template.spec.containers[0];
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'gateway');
    const https = service.spec.ports.find((p: any) => p.port === 443);
    expect(https).toMatchObject({ name: 'https', targetPort: 'https-external' });
    // The gateway's --external-tls-port default, which the chart does not pass.
    expect(container.ports.find((p: any) => p.name === 'https-external')?.containerPort).toBe(8443);
  });

  // A revision in Proxy mode gets the activator Service's endpoints, narrowed to the port its
  // protocol targets (8012, or 8013 for h2c), so the activator must serve both, under the names
  // and Service ports Knative gives them.
  it("gives the activator Knative's serving ports for HTTP/1 and h2c revisions", async () => {
    const { stdout } = await run(
      helm,
      ['template', 'pilotlight', chart, '--namespace', 'knative-serving', '--set', 'image.tag=test'],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    type Obj = { kind?: string; metadata?: { name?: string }; spec?: any };
    const objects = parseAllDocuments(stdout)
      .map((doc) => doc.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null);
    const service = objects.find((o) => o.kind === 'Service' && o.metadata?.name === 'activator-service');
    expect(service?.spec.ports).toEqual(
      expect.arrayContaining([
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'http2', port: 81, targetPort: 'http2' },
      ]),
    );
    const container = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'activator')?.spec.template
      .spec.containers[0];
    expect(container.ports).toEqual(
      expect.arrayContaining([
        { name: 'http', containerPort: BackendPorts.http },
        { name: 'http2', containerPort: BackendPorts.http2 },
      ]),
    );
    expect(container.args).toEqual(
      expect.arrayContaining([`--port=${BackendPorts.http}`, `--h2c-port=${BackendPorts.http2}`]),
    );
  });

  it('refuses to render without an image tag, saying which value is missing', async () => {
    await expect(run(helm, ['template', 'pilotlight', chart])).rejects.toMatchObject({
      stderr: expect.stringMatching(/image.tag is required/),
    });
  });
});
