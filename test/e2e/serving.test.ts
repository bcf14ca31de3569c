// Knative Serving behaviour through the gateway on the local cluster: a 90/10 traffic split
// measured over 2,000 requests, a gradual rollout followed step by step, a tag's own URL, a k6 run without a failed request, a WebSocket
// echo, scale-out under containerConcurrency 1, and deletion reaching every child.
// Needs root (network setup, containerd); run with `npm run test:e2e`.
import { Agent } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REGISTRY_HOST } from '../../cli/cluster/node.ts';
import { sampleImage } from '../../cli/images/build.ts';
import {
  GATEWAY,
  localCluster,
  type GatewayResponse,
  repo,
  run,
  viaGateway,
  websocketExchange,
  type LocalCluster,
} from './localCluster.ts';

const NAMESPACE = 'e2e-serving';
let cluster: LocalCluster;
let k6 = '';
const kubectl = (args: string[], input?: string) => cluster.kubectl(args, input);
const apply = (object: object) => kubectl(['apply', '-n', NAMESPACE, '-f', '-'], stringify(object));
const host = (name: string) => `${name}.${NAMESPACE}.example.com`;

interface KnativeStatus {
  observedGeneration?: number;
  conditions?: { type: string; status: string }[];
  traffic?: { revisionName?: string; percent?: number; tag?: string; url?: string }[];
}
interface KnativeObject {
  metadata: { generation?: number };
  status?: KnativeStatus;
}

/** The ksvc has reconciled its latest spec and is Ready (kubectl wait may see the previous generation's Ready). */
async function readyService(name: string): Promise<KnativeObject> {
  let latest: KnativeObject | undefined;
  await expect
    .poll(
      async () => {
        latest = JSON.parse(
          (await kubectl(['get', 'ksvc', name, '-n', NAMESPACE, '-o', 'json'])).stdout,
        ) as KnativeObject;
        const ready = latest.status?.conditions?.find((c) => c.type === 'Ready')?.status;
        return latest.status?.observedGeneration === latest.metadata.generation && ready === 'True';
      },
      { timeout: 180_000, interval: 1000 },
    )
    .toBe(true);
  return latest!;
}

/** Sends count GETs through the gateway, concurrency at a time, and tallies the answering revisions. */
async function tallyRevisions(
  hostName: string,
  count: number,
  concurrency: number,
): Promise<{ revisions: Map<string, number>; failures: string[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const revisions = new Map<string, number>();
  const failures: string[] = [];
  let sent = 0;
  const worker = async () => {
    while (sent < count) {
      sent++;
      const res = await viaGateway(hostName, '/', agent).catch(
        (error: Error): GatewayResponse => ({ status: 0, headers: {}, body: error.message }),
      );
      const revision = res.headers['knative-serving-revision'];
      if (res.status !== 200 || typeof revision !== 'string') failures.push(`${res.status} ${res.body.slice(0, 120)}`);
      else revisions.set(revision, (revisions.get(revision) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return { revisions, failures };
}

const autoscaleService = (
  name: string,
  revision: string,
  annotations: Record<string, string> = {},
  spec: object = {},
) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name },
  spec: {
    template: {
      metadata: { name: revision, annotations },
      spec: { ...spec, containers: [{ image: sampleImage('autoscale') }] },
    },
  },
});

beforeAll(async () => {
  cluster = await localCluster('pilotlight-e2e-serving');
  // The cluster and its registry, holding the operator image and the chart; pilotlight itself is
  // then installed as README.md's "Install on your cluster" tells a user: helm install from OCI.
  const [up, tool] = await Promise.all([
    cluster.pilotlight('up', '--local', '--skip-install'),
    run('bash', [join(repo, 'hack', 'build-tool.sh'), 'k6'], {
      encoding: 'utf8',
      timeout: 1_800_000,
      maxBuffer: 16 * 1024 * 1024,
    }),
  ]);
  expect(up.stdout.trim().split('\n').at(-1)).toBe(`KUBECONFIG=${cluster.kubeconfig}`);
  k6 = tool.stdout.trim().split('\n').at(-1)!;
  const published = /(oci:\/\/\S+\/charts\/pilotlight) --version (\S+)/.exec(up.stdout);
  expect(published).not.toBeNull();
  const [, chart, version] = published!;
  // A shared cluster (PILOTLIGHT_E2E_STATE_DIR) has pilotlight installed by an earlier `up`: its
  // release goes first, so that the install below is a user's first install.
  if (process.env.PILOTLIGHT_E2E_STATE_DIR)
    await cluster.helm(['uninstall', 'pilotlight', '--namespace', 'knative-serving', '--ignore-not-found', '--wait']);
  await cluster.helm([
    'install',
    'pilotlight',
    chart!,
    '--version',
    version!,
    '--namespace',
    'knative-serving',
    '--create-namespace',
    // Exposing the gateway on the node's ports, as on kind; the registry's CA is the cluster's own.
    '--set',
    'gateway.service.type=NodePort',
    '--set',
    `gateway.service.nodePort=${GATEWAY.port}`,
    '--set',
    'gateway.service.tlsNodePort=31443',
    '--ca-file',
    join(cluster.stateDir, 'pki', 'ca.crt'),
    '--wait',
    '--timeout',
    '300s',
  ]);
  await cluster.waitForWebhook();
  // Pods still terminating (a release uninstalled just before, on a shared cluster) are not this install's.
  const pods = JSON.parse((await kubectl(['get', 'pods', '-n', 'knative-serving', '-o', 'json'])).stdout) as {
    items: { metadata: { deletionTimestamp?: string }; spec: { containers: { image: string }[] } }[];
  };
  const running = pods.items
    .filter((pod) => !pod.metadata.deletionTimestamp)
    .map((pod) => pod.spec.containers[0]!.image);
  expect(running.length).toBeGreaterThanOrEqual(4);
  expect(new Set(running)).toEqual(new Set([`${REGISTRY_HOST}/pilotlight/pilotlight:${version}`]));
  // Pulled, not imported: containerd's CRI records a pulled image under its registry digest too.
  const { stdout: refs } = await run('ctr', [
    '--address',
    join(cluster.stateDir, 'containerd', 'containerd.sock'),
    '-n',
    'k8s.io',
    'images',
    'ls',
    '-q',
  ]);
  expect(refs.split('\n')).toContainEqual(
    expect.stringMatching(
      new RegExp(`^${REGISTRY_HOST.replaceAll('.', '\\.')}/pilotlight/pilotlight@sha256:[0-9a-f]{64}$`),
    ),
  );
  await kubectl(['create', 'namespace', NAMESPACE]);
}, 1_800_000);

afterAll(() => cluster?.dispose(), 120_000);

describe('Knative Serving through the gateway', () => {
  it('a new revision with a 90/10 split gets 10% ± 2% of 2,000 requests', async () => {
    await apply(autoscaleService('split', 'split-first'));
    await readyService('split');
    await apply({
      ...autoscaleService('split', 'split-second'),
      spec: {
        ...autoscaleService('split', 'split-second').spec,
        traffic: [
          { revisionName: 'split-first', percent: 90 },
          { revisionName: 'split-second', percent: 10, tag: 'candidate' },
        ],
      },
    });
    const service = await readyService('split');
    expect(service.status?.traffic?.map((t) => [t.revisionName, t.percent])).toEqual([
      ['split-first', 90],
      ['split-second', 10],
    ]);

    const { revisions, failures } = await tallyRevisions(host('split'), 2000, 16);
    expect(failures).toEqual([]);
    expect([...revisions.keys()].sort()).toEqual(['split-first', 'split-second']);
    const share = revisions.get('split-second')! / 2000;
    console.log(`90/10 split over 2000 requests: split-second answered ${(share * 100).toFixed(2)}%`);
    expect(share).toBeGreaterThanOrEqual(0.08);
    expect(share).toBeLessThanOrEqual(0.12);
  });

  it('rollout-duration 60s moves traffic in steps, each served within 2 points, without a failed request', async () => {
    const annotations = { 'serving.knative.dev/rollout-duration': '60s' };
    const rolloutService = (revision: string) => {
      const service = autoscaleService('rollout', revision);
      return { ...service, metadata: { ...service.metadata, annotations } };
    };
    await apply(rolloutService('rollout-first'));
    await readyService('rollout');
    await apply(rolloutService('rollout-second'));

    interface Sample {
      /** The new revision's percent programmed when the sample began and when it ended. */
      from: number;
      to: number;
      share: number;
    }
    const samples: Sample[] = [];
    const programmedPercents: number[] = [];
    const failures: string[] = [];
    /** The new revision's percent on the public host of the KIngress. */
    const programmed = async () => {
      const ingress = JSON.parse(
        (await kubectl(['get', 'ingresses.networking.internal.knative.dev', 'rollout', '-n', NAMESPACE, '-o', 'json']))
          .stdout,
      ) as {
        spec: {
          rules: { hosts: string[]; http: { paths: { splits: { serviceName: string; percent?: number }[] }[] } }[];
        };
      };
      const rule = ingress.spec.rules.find((r) => r.hosts.includes(host('rollout')));
      const percent = rule?.http.paths[0]?.splits.find((s) => s.serviceName === 'rollout-second')?.percent ?? 0;
      programmedPercents.push(percent);
      return percent;
    };
    // Bounded: the rollout takes 60 s; a sample takes about a second.
    const deadline = Date.now() + 150_000;
    for (let round = 0; round < 300 && Date.now() < deadline; round++) {
      const from = await programmed();
      // Time for the gateway to apply the KIngress it shows (its debounce is 50 ms).
      await new Promise((resolve) => setTimeout(resolve, 500));
      const tally = await tallyRevisions(host('rollout'), 200, 8);
      failures.push(...tally.failures);
      const to = await programmed();
      samples.push({ from, to, share: ((tally.revisions.get('rollout-second') ?? 0) / 200) * 100 });
      if (from === 100 && to === 100) break;
    }
    console.log(
      `rollout samples (percent programmed at start..end → share served): ${samples.map((s) => `${s.from}..${s.to}→${s.share}`).join(', ')}`,
    );
    expect(failures).toEqual([]);
    // Steps, not a jump: several distinct splits between the first and the last, in order. Steps
    // come about a second apart, as long as a sample takes on a busy machine, so a sample may
    // span several of them.
    expect(new Set(programmedPercents.filter((p) => p > 0 && p < 100)).size).toBeGreaterThanOrEqual(3);
    expect(programmedPercents).toEqual([...programmedPercents].sort((a, b) => a - b));
    expect(programmedPercents.at(-1)).toBe(100);
    // What was served lies within 2 points of the splits programmed while the sample ran.
    for (const sample of samples) {
      expect(sample.share).toBeGreaterThanOrEqual(sample.from - 2);
      expect(sample.share).toBeLessThanOrEqual(sample.to + 2);
    }
    const service = await readyService('rollout');
    expect(service.status?.traffic?.map((t) => [t.revisionName, t.percent])).toEqual([['rollout-second', 100]]);
  }, 240_000);

  it("a tag's URL reaches its revision only", async () => {
    const service = JSON.parse(
      (await kubectl(['get', 'ksvc', 'split', '-n', NAMESPACE, '-o', 'json'])).stdout,
    ) as KnativeObject;
    const tagged = service.status?.traffic?.find((t) => t.tag === 'candidate');
    // Knative's default tag template: {{.Tag}}-{{.Name}} in the route's domain.
    expect(tagged?.url).toBe(`http://${host('candidate-split')}`);
    const { revisions, failures } = await tallyRevisions(host('candidate-split'), 50, 5);
    expect(failures).toEqual([]);
    expect(Object.fromEntries(revisions)).toEqual({ 'split-second': 50 });
  });

  it('k6 at a fixed rate against the split sees no failed request', async () => {
    const summaryPath = join(cluster.stateDir, 'k6-summary.json');
    const { stdout } = await run(
      k6,
      [
        'run',
        '--quiet',
        '--no-usage-report',
        '-e',
        `GATEWAY_URL=http://${GATEWAY.host}:${GATEWAY.port}/`,
        '-e',
        `HOST=${host('split')}`,
        '-e',
        'RATE=50',
        '-e',
        'DURATION=15s',
        '-e',
        'MAX_VUS=20',
        '-e',
        `SUMMARY_JSON=${summaryPath}`,
        join(repo, 'test', 'e2e', 'gateway-split.js'),
      ],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
    );
    console.log(stdout);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as {
      requests: number;
      unexpectedStatusRate: number;
      statuses: Record<string, number>;
      revisions: Record<string, number>;
    };
    expect(summary.unexpectedStatusRate).toBe(0);
    expect(summary.statuses).toEqual({ 200: summary.requests });
    // constant-arrival-rate: 50/s for 15 s, give or take the iterations k6 drops at the edges.
    expect(summary.requests).toBeGreaterThan(600);
    expect(Object.keys(summary.revisions).sort()).toEqual(['split-first', 'split-second']);
  });

  it('deleting the Service removes every child, down to the pods', async () => {
    const kinds =
      'configurations,routes,revisions,deployments,podautoscalers,serverlessservices,ingresses.networking.internal.knative.dev,services,endpoints';
    const children = async () =>
      (await kubectl(['get', kinds, '-n', NAMESPACE, '-l', 'serving.knative.dev/service=split', '-o', 'name'])).stdout
        .split('\n')
        .filter(Boolean)
        .sort();
    const before = await children();
    for (const kind of [
      'configuration.serving.knative.dev',
      'route.serving.knative.dev',
      'revision.serving.knative.dev',
      'deployment.apps',
      'podautoscaler.autoscaling.internal.knative.dev',
      'serverlessservice.networking.internal.knative.dev',
      'ingress.networking.internal.knative.dev',
      'service',
      'endpoints',
    ]) {
      expect(
        before.some((name) => name.startsWith(`${kind}/`)),
        `a ${kind} labelled for split before deletion, among ${before.join(' ')}`,
      ).toBe(true);
    }
    await kubectl(['delete', 'ksvc', 'split', '-n', NAMESPACE, '--wait=true']);
    await expect.poll(children, { timeout: 90_000, interval: 1000 }).toEqual([]);
    const livePods = async () => {
      const pods = JSON.parse(
        (await kubectl(['get', 'pods', '-n', NAMESPACE, '-l', 'serving.knative.dev/service=split', '-o', 'json']))
          .stdout,
      ) as { items: { metadata: { deletionTimestamp?: string } }[] };
      return pods.items.filter((p) => !p.metadata.deletionTimestamp).length;
    };
    await expect.poll(livePods, { timeout: 90_000, interval: 1000 }).toBe(0);
    expect((await viaGateway(host('split'))).status).toBe(404);
  });

  it('the autoscale sample holds a request and does CPU work as asked', async () => {
    await apply(parse(readFileSync(join(repo, 'samples', 'autoscale-local.yaml'), 'utf8')) as object);
    await readyService('autoscale-go');
    const started = performance.now();
    const res = await viaGateway(host('autoscale-go'), '/?sleep=300&prime=1000');
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(res).toMatchObject({
      status: 200,
      body: 'The largest prime less than 1000 is 997.\nSlept for 300 milliseconds.\n',
    });
    expect(res.headers['knative-serving-revision']).toBe('autoscale-go-00001');
    await kubectl(['delete', 'ksvc', 'autoscale-go', '-n', NAMESPACE]);
  });

  it('a WebSocket echoes through the gateway', async () => {
    const sample = parse(readFileSync(join(repo, 'samples', 'websocket-local.yaml'), 'utf8')) as object;
    await apply(sample);
    await readyService('websocket-echo');
    const messages = ['hello', 'ünïcödé ✓', 'x'.repeat(3000)];
    const { accept, expectedAccept, replies } = await websocketExchange(host('websocket-echo'), messages);
    expect(accept).toBe(expectedAccept);
    expect(replies).toEqual(messages);
  });

  it('containerConcurrency 1 under 20 concurrent requests scales the Deployment out', async () => {
    // min-scale 1 keeps the first pod through the test; max-scale bounds what a 2-core node runs.
    await apply(
      autoscaleService(
        'one-at-a-time',
        'one-at-a-time-first',
        { 'autoscaling.knative.dev/min-scale': '1', 'autoscaling.knative.dev/max-scale': '4' },
        { containerConcurrency: 1 },
      ),
    );
    await readyService('one-at-a-time');
    const deployment = async () =>
      JSON.parse(
        (await kubectl(['get', 'deployment', 'one-at-a-time-first-deployment', '-n', NAMESPACE, '-o', 'json'])).stdout,
      ) as { spec: { replicas: number }; status: { readyReplicas?: number } };
    expect((await deployment()).spec.replicas).toBe(1);

    // 20 clients, each sending requests that hold 1.5 s, until more than one pod is ready or 120 s pass.
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const statuses = new Map<number, number>();
    let scaledOut = false;
    const stopAt = Date.now() + 120_000;
    const client = async () => {
      while (!scaledOut && Date.now() < stopAt) {
        const { status } = await viaGateway(host('one-at-a-time'), '/?sleep=1500', agent).catch(() => ({ status: 0 }));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    const watcher = async () => {
      while (!scaledOut && Date.now() < stopAt) {
        const { status } = await deployment();
        if ((status.readyReplicas ?? 0) > 1) scaledOut = true;
        else await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    };
    try {
      await Promise.all([watcher(), ...Array.from({ length: 20 }, client)]);
    } finally {
      agent.destroy();
    }
    const { spec, status } = await deployment();
    console.log(
      `containerConcurrency 1: ${spec.replicas} replicas wanted, ${status.readyReplicas} ready; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(scaledOut).toBe(true);
    expect(spec.replicas).toBeGreaterThan(1);
    expect(spec.replicas).toBeLessThanOrEqual(4);
    expect([...statuses.keys()]).toEqual([200]);
  }, 300_000);

  it('each component runs under a least-privilege role and was never refused', async () => {
    const { stdout } = await kubectl([
      'logs',
      '-n',
      'knative-serving',
      '-l',
      'app.kubernetes.io/name=pilotlight',
      '--all-containers',
      '--prefix',
      '--tail=-1',
      '--max-log-requests=10',
    ]);
    expect(stdout.length).toBeGreaterThan(0);
    expect(stdout.split('\n').filter((line) => / is forbidden: /.test(line))).toEqual([]);

    // And each role stops at what its component needs.
    const canI = async (component: string, ...request: string[]) =>
      (
        await kubectl([
          'auth',
          'can-i',
          ...request,
          `--as=system:serviceaccount:knative-serving:pilotlight-${component}`,
        ]).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))
      ).stdout.trim();
    expect(await canI('controller', 'get', 'secrets/webhook-certs', '-n', 'knative-serving')).toBe('yes');
    expect(await canI('controller', 'get', 'secrets', '-n', NAMESPACE)).toBe('no');
    expect(await canI('autoscaler', 'patch', 'deployments.apps/x', '--subresource=scale', '-n', NAMESPACE)).toBe('yes');
    expect(await canI('autoscaler', 'create', 'deployments.apps', '-n', NAMESPACE)).toBe('no');
    expect(await canI('activator', 'watch', 'endpoints', '-A')).toBe('yes');
    expect(await canI('activator', 'list', 'pods', '-A')).toBe('no');
    expect(
      await canI(
        'gateway',
        'patch',
        'ingresses.networking.internal.knative.dev/x',
        '--subresource=status',
        '-n',
        NAMESPACE,
      ),
    ).toBe('yes');
    expect(await canI('gateway', 'update', 'ingresses.networking.internal.knative.dev/x', '-n', NAMESPACE)).toBe('no');
  });
});
