// The local cluster end to end, as a user meets it: `pilotlight up`, kubectl against it, a real
// pod behind a Service, the operator answering admission from inside the cluster, `down`.
// Needs root (network setup, containerd); run with `npm run test:e2e`.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { NODE_IP, PAUSE_IMAGE, REGISTRY_HOST } from '../../cli/cluster/node.ts';
import { buildSampleImage } from '../../cli/images/build.ts';
import { writeOciImage } from '../../cli/images/oci.ts';
import { pushOciArchive } from '../../cli/images/push.ts';
import { createRegistryClient } from '../../lib/oci/client.ts';
import { localCluster, repo, run, viaGateway, type LocalCluster } from './localCluster.ts';

let cluster: LocalCluster;
let stateDir = '';
const kubectl = (args: string[], input?: string) => cluster.kubectl(args, input);
const escapeDots = (text: string) => text.replaceAll('.', '\\.');
/** The image references containerd's CRI namespace holds: what it pulled (by tag and digest), or imported. */
const containerdImages = async () =>
  (
    await run('ctr', [
      '--address',
      join(stateDir, 'containerd', 'containerd.sock'),
      '-n',
      'k8s.io',
      'images',
      'ls',
      '-q',
    ])
  ).stdout
    .split('\n')
    .filter(Boolean);
/** GET on a connection of its own, so kube-proxy balances each request afresh. */
const getOnNewConnection = (url: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)));
    req.on('error', reject);
  });
const registryClient = () => createRegistryClient([readFileSync(join(stateDir, 'pki', 'ca.crt'), 'utf8')]);

beforeAll(async () => {
  cluster = await localCluster('pilotlight-e2e');
  stateDir = cluster.stateDir;
  const up = await cluster.pilotlight('up', '--local');
  expect(up.stdout.trim().split('\n').at(-1)).toBe(`KUBECONFIG=${cluster.kubeconfig}`);
}, 1_800_000);

afterAll(() => cluster?.dispose(), 120_000);

describe('pilotlight up: a one-node cluster with the operator installed', () => {
  it('the node is Ready and the operator runs in knative-serving', async () => {
    const nodes = await kubectl([
      'get',
      'nodes',
      '-o',
      'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
    ]);
    expect(nodes.stdout).toBe('True');
    const pods = await kubectl([
      'get',
      'pods',
      '-n',
      'knative-serving',
      '-l',
      'app.kubernetes.io/component=controller',
      '-o',
      'jsonpath={.items[*].status.containerStatuses[*].ready}',
    ]);
    // The chart's two replicas (adr/0011), each ready: the follower serves the webhook too.
    expect(pods.stdout.split(' ')).toEqual(['true', 'true']);
  });

  it('the in-cluster webhook defaults and validates Knative Services', async () => {
    await kubectl(['create', 'namespace', 'e2e']);
    await kubectl(['apply', '-n', 'e2e', '-f', join(repo, 'samples', 'helloworld.yaml')]);
    const traffic = await kubectl(['get', 'ksvc', 'hello', '-n', 'e2e', '-o', 'jsonpath={.spec.traffic[0].percent}']);
    expect(traffic.stdout).toBe('100');
    await expect(
      kubectl(['apply', '-n', 'e2e', '-f', join(repo, 'samples', 'invalid-traffic.yaml')]),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/percents of all traffic targets must add up to 100/) });
  });

  it('a pod behind a Service answers through its ClusterIP, reaches the API server from inside and resolves cluster names', async () => {
    const image = `${REGISTRY_HOST}/e2e/node:1`;
    const archive = join(stateDir, 'e2e-node.tar');
    const root = mkdtempSync(join(tmpdir(), 'pilotlight-e2e-root-'));
    await run('sh', [
      '-c',
      `mkdir -p ${root}/usr/local/bin ${root}/tmp && cp ${join(repo, 'node_modules', 'node', 'bin', 'node')} ${root}/usr/local/bin/node && for l in $(ldd ${root}/usr/local/bin/node | grep -o '/[^ ]*'); do mkdir -p ${root}$(dirname $l); cp -L $l ${root}$l; done`,
    ]);
    await writeOciImage({ name: image, layers: [root], config: { entrypoint: ['/usr/local/bin/node'] } }, archive);
    rmSync(root, { recursive: true, force: true });
    await pushOciArchive(registryClient(), archive, image);
    const server = [
      "const https = require('https'); const fs = require('fs');",
      "require('http').createServer((q, s) => {",
      // Through getaddrinfo, so the resolv.conf the kubelet wrote and glibc's search list apply.
      "  if (q.url.startsWith('/dns/')) return require('dns').lookup(q.url.slice(5), { family: 4 }, (e, a) => s.end(e ? 'error ' + e.code : a));",
      "  if (q.url === '/resolv.conf') return s.end(fs.readFileSync('/etc/resolv.conf', 'utf8'));",
      "  if (q.url !== '/api') return s.end('hello from ' + require('os').hostname());",
      "  const token = fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/token', 'utf8');",
      "  https.get({ host: '10.96.0.1', path: '/version', ca: fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt'), servername: 'kubernetes.default.svc', headers: { authorization: 'Bearer ' + token } },",
      "    (r) => { let b = ''; r.on('data', (c) => b += c); r.on('end', () => s.end(r.statusCode + ' ' + JSON.parse(b).gitVersion)); }).on('error', (e) => s.end('error ' + e.message));",
      '}).listen(8080);',
    ].join('\n');
    const manifests = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'e2e' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              containers: [
                {
                  name: 'web',
                  image,
                  args: ['-e', server],
                  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'e2e' },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    ];
    await kubectl(['apply', '-f', '-'], manifests.map((m) => stringify(m)).join('---\n'));
    await kubectl(['rollout', 'status', 'deployment/web', '-n', 'e2e', '--timeout=120s']);
    const clusterIp = (await kubectl(['get', 'svc', 'web', '-n', 'e2e', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    expect(clusterIp).toMatch(/^10\.96\./);
    await expect
      .poll(
        async () =>
          await fetch(`http://${clusterIp}/`)
            .then((r) => r.text())
            .catch(() => ''),
        { timeout: 30_000 },
      )
      .toMatch(/^hello from web-/);
    expect(await fetch(`http://${clusterIp}/api`).then((r) => r.text())).toBe('200 v1.35.4');
    // Cluster DNS (CoreDNS behind kube-dns): the FQDN and the short forms Knative's KIngress
    // conformance test `visibility` resolves from a pod; nothing outside the cluster is answered.
    const text = (path: string) => fetch(`http://${clusterIp}${path}`).then((r) => r.text());
    const resolvConf = await text('/resolv.conf');
    expect(resolvConf).toMatch(/^nameserver 10\.96\.0\.10$/m);
    expect(resolvConf).toMatch(/^search e2e\.svc\.cluster\.local svc\.cluster\.local cluster\.local\b/m);
    expect(await text('/dns/kubernetes.default.svc.cluster.local')).toBe('10.96.0.1');
    for (const name of ['web.e2e.svc.cluster.local', 'web.e2e.svc', 'web.e2e', 'web'])
      expect(await text(`/dns/${name}`)).toBe(clusterIp);
    expect(await text('/dns/example.com')).toMatch(/^error /);
  });

  it("a Knative Service runs its revision's pod behind queue-proxy, and deleting it removes every child", async () => {
    // A namespace of its own: the webhook test above left a Service named hello in e2e.
    await kubectl(['create', 'namespace', 'e2e-hello']);
    await kubectl(['apply', '-n', 'e2e-hello', '-f', join(repo, 'samples', 'hello-local.yaml')]);
    await kubectl(['wait', '-n', 'e2e-hello', '--for=condition=Ready', 'revision/hello-00001', '--timeout=120s']);
    const podIp = (
      await kubectl([
        'get',
        'pods',
        '-n',
        'e2e-hello',
        '-l',
        'serving.knative.dev/revision=hello-00001',
        '-o',
        'jsonpath={.items[0].status.podIP}',
      ])
    ).stdout;
    expect(await fetch(`http://${podIp}:8012/`).then((r) => r.text())).toBe('Hello pilotlight!\n');
    // The README's path: the Service turns Ready once the gateway serves its Ingress, then curl works.
    await kubectl(['wait', '-n', 'e2e-hello', '--for=condition=Ready', 'ksvc/hello', '--timeout=60s']);
    const url = (await kubectl(['get', 'ksvc', 'hello', '-n', 'e2e-hello', '-o', 'jsonpath={.status.url}'])).stdout;
    expect(url).toBe('http://hello.e2e-hello.example.com');
    expect(await viaGateway(new URL(url).host)).toMatchObject({ status: 200, body: 'Hello pilotlight!\n' });
    expect((await viaGateway('nobody.example.com')).status).toBe(404);
    // The sample's tag, resolved to a digest in the node's registry, and that digest pulled by containerd.
    const revision = JSON.parse(
      (await kubectl(['get', 'revision', 'hello-00001', '-n', 'e2e-hello', '-o', 'json'])).stdout,
    ) as { status: { containerStatuses: { imageDigest?: string }[] } };
    const pinned = revision.status.containerStatuses[0]?.imageDigest ?? '';
    expect(pinned).toMatch(new RegExp(`^${escapeDots(REGISTRY_HOST)}/pilotlight/helloworld@sha256:[0-9a-f]{64}$`));
    expect(await containerdImages()).toContain(pinned);

    // Idle, it scales to zero (short windows for the test), and the next request brings it back
    // through the activator without being lost.
    await kubectl([
      'patch',
      'configmap',
      'config-autoscaler',
      '-n',
      'knative-serving',
      '--type=merge',
      '-p',
      JSON.stringify({ data: { 'stable-window': '6s', 'scale-to-zero-grace-period': '6s' } }),
    ]);
    const replicas = async () =>
      (
        await kubectl([
          'get',
          'deployment',
          'hello-00001-deployment',
          '-n',
          'e2e-hello',
          '-o',
          'jsonpath={.spec.replicas}',
        ])
      ).stdout;
    await expect.poll(replicas, { timeout: 90_000, interval: 1000 }).toBe('0');
    const pods = async () => (await kubectl(['get', 'pods', '-n', 'e2e-hello', '-o', 'name'])).stdout;
    await expect.poll(pods, { timeout: 90_000, interval: 1000 }).toBe('');
    expect(await viaGateway(new URL(url).host)).toMatchObject({ status: 200, body: 'Hello pilotlight!\n' });
    expect(await replicas()).toBe('1');
    const children = [
      'configuration/hello',
      'route/hello',
      'revision/hello-00001',
      'deployment/hello-00001-deployment',
      'podautoscaler/hello-00001',
      'ingress.networking.internal.knative.dev/hello',
    ];
    for (const child of children) await kubectl(['get', '-n', 'e2e-hello', child]);
    await kubectl(['delete', 'ksvc', 'hello', '-n', 'e2e-hello', '--wait=true']);
    // kube-controller-manager's garbage collector follows the owner references down to the pods,
    // which then drain (queue-proxy waits out its quiet period), so deletion is what we can see.
    const livePods = async () => {
      const pods = JSON.parse(
        (await kubectl(['get', 'pods', '-n', 'e2e-hello', '-l', 'serving.knative.dev/service=hello', '-o', 'json']))
          .stdout,
      ) as { items: { metadata: { deletionTimestamp?: string } }[] };
      return pods.items.filter((p) => !p.metadata.deletionTimestamp).length;
    };
    await expect.poll(livePods, { timeout: 60_000 }).toBe(0);
    for (const child of children) {
      await expect(kubectl(['get', '-n', 'e2e-hello', child])).rejects.toMatchObject({
        stderr: expect.stringMatching(/NotFound/),
      });
    }
  });

  it("an image pushed to the node's registry runs by the digest its tag resolved to", async () => {
    const { archive } = await buildSampleImage('helloworld', join(stateDir, 'images'));
    const image = `${REGISTRY_HOST}/e2e/helloworld:1`;
    const digest = await pushOciArchive(registryClient(), archive, image);
    await kubectl(['create', 'namespace', 'e2e-registry']);
    await kubectl(
      ['apply', '-n', 'e2e-registry', '-f', '-'],
      stringify({
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name: 'pushed' },
        spec: { template: { spec: { containers: [{ image }] } } },
      }),
    );
    await kubectl(['wait', '-n', 'e2e-registry', '--for=condition=Ready', 'ksvc/pushed', '--timeout=120s']);
    const pinned = `${REGISTRY_HOST}/e2e/helloworld@${digest}`;
    const revision = JSON.parse(
      (await kubectl(['get', 'revision', 'pushed-00001', '-n', 'e2e-registry', '-o', 'json'])).stdout,
    ) as { status: { containerStatuses: { name: string; imageDigest?: string }[] } };
    expect(revision.status.containerStatuses).toEqual([{ name: 'user-container', imageDigest: pinned }]);
    // containerd pulled it from the registry over TLS: it was never imported.
    const podImage = await kubectl([
      'get',
      'pods',
      '-n',
      'e2e-registry',
      '-l',
      'serving.knative.dev/revision=pushed-00001',
      '-o',
      'jsonpath={.items[0].spec.containers[0].image}',
    ]);
    expect(podImage.stdout).toBe(pinned);
    expect(await viaGateway('pushed.e2e-registry.example.com')).toMatchObject({
      status: 200,
      body: 'Hello World!\n',
    });
  });

  // A metric each component really exports (its own, not the process defaults every one serves).
  it.each([
    ['controller', 'webhook', 'controller_reconcile_total'],
    ['autoscaler', 'autoscaler', 'kn_revision_pods_desired'],
    ['activator', 'activator-service', 'kn_activator_stats_conn_reachable'],
    ['gateway', 'gateway-admin', 'http_server_request_duration_seconds'],
  ])("the %s's metrics answer through its Service %s on port 9090", async (_component, service, metric) => {
    const jsonpath = '{.spec.clusterIP} {.spec.ports[?(@.name=="http-metrics")].port}';
    const [clusterIp, port] = (
      await kubectl(['get', 'service', service, '-n', 'knative-serving', '-o', `jsonpath=${jsonpath}`])
    ).stdout.split(' ');
    expect(port).toBe('9090');
    // A headless Service (gateway-admin: its name resolves to each replica) has no ClusterIP:
    // the API server's proxy to the Service picks one of its endpoints instead.
    const scrape = async () =>
      clusterIp === 'None'
        ? {
            status: 200,
            body: (
              await kubectl([
                'get',
                '--raw',
                `/api/v1/namespaces/knative-serving/services/${service}:${port}/proxy/metrics`,
              ])
            ).stdout,
          }
        : await getOnNewConnection(`http://${clusterIp}:${port}/metrics`);
    // Each request picks either replica afresh: both serve the metric.
    for (let attempt = 0; attempt < 4; attempt++) {
      const response = await scrape();
      expect(response.status).toBe(200);
      expect(response.body).toMatch(new RegExp(`^# TYPE ${metric} `, 'm'));
    }
  });

  it("every image on the node was pulled from the registry, the sandbox's too: none was imported", async () => {
    const images: string[] = [];
    for (const namespace of ['kube-system', 'knative-serving']) {
      const pods = JSON.parse((await kubectl(['get', 'pods', '-n', namespace, '-o', 'json'])).stdout) as {
        items: { status: { containerStatuses?: { image: string }[] } }[];
      };
      images.push(...pods.items.flatMap((pod) => (pod.status.containerStatuses ?? []).map((c) => c.image)));
    }
    // CoreDNS and the two replicas of each of pilotlight's four components.
    expect(images.length).toBeGreaterThanOrEqual(9);
    // containerd's CRI records what it pulled under the repository's digest as well (containerd 1.6
    // reports a pod's imageID as the config digest, so the reference list is where a pull shows).
    const refs = await containerdImages();
    const registry = new RegExp(`^${escapeDots(REGISTRY_HOST)}/pilotlight/[a-z-]+[:@]`);
    for (const image of [...images, PAUSE_IMAGE]) {
      expect(image).toMatch(registry);
      const repository = image.replace(/(@sha256:[0-9a-f]+|:[^:/]+)$/, '');
      expect(refs.some((ref) => ref.startsWith(`${repository}@sha256:`))).toBe(true);
    }
    expect(refs).toContain(PAUSE_IMAGE);
  });

  // Never on a cluster others share (PILOTLIGHT_E2E_STATE_DIR): it would take theirs down.
  it.skipIf(process.env.PILOTLIGHT_E2E_STATE_DIR !== undefined)(
    'down stops everything and leaves no trace on the host',
    async () => {
      await cluster.pilotlight('down');
      const { stdout: rules } = await run('iptables-save');
      expect(rules).not.toMatch(/KUBE-|CNI-/);
      const { stdout: addresses } = await run('ip', ['-o', 'addr']);
      expect(addresses).not.toContain(NODE_IP);
      expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(stateDir);
      expect(existsSync(join(stateDir, 'kubeconfig'))).toBe(false);
      expect(existsSync(join(stateDir, 'registry'))).toBe(false);
    },
    120_000,
  );
});
