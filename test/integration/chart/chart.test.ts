// The Helm chart lints, renders, and every object it renders is accepted by the real API server.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BackendPorts } from '../../../lib/apis/networking.ts';
import { ANNOUNCE_KEY_SECRET } from '../../../lib/announce.ts';
import { ANNOUNCE_PORT } from '../../../lib/hop.ts';
import { ensureTool } from '../../../cli/cluster/binaries.ts';
import { parseGoDuration } from '../../../lib/config/duration.ts';
import { kubectl } from '../../support/kube.ts';

const run = promisify(execFile);
const chart = join(import.meta.dirname, '..', '..', '..', 'charts', 'pilotlight');

describe('charts/pilotlight', () => {
  let helm: string;
  // On empty caches helm is built from the Go module proxy first: minutes, not part of the test.
  beforeAll(async () => {
    helm = await ensureTool('helm');
  }, 20 * 60_000);

  type Obj = { kind?: string; metadata?: { name?: string }; spec?: any };
  const render = async (...sets: string[]): Promise<Obj[]> => {
    const { stdout } = await run(
      helm,
      ['template', 'pilotlight', chart, '--namespace', 'knative-serving', '--set', 'image.tag=test'].concat(
        sets.flatMap((s) => ['--set', s]),
      ),
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return parseAllDocuments(stdout)
      .map((doc) => doc.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null);
  };
  const deployment = (objects: Obj[], name: string) =>
    objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === name)!;
  const flag = (objects: Obj[], name: string, key: string): string => {
    const args: string[] = deployment(objects, name).spec.template.spec.containers[0].args;
    return args.find((a) => a.startsWith(`--${key}=`))!.split('=')[1]!;
  };

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
        'CustomResourceDefinition',
        'MutatingWebhookConfiguration',
        'ValidatingWebhookConfiguration',
        'Secret',
      ]),
    );
    // The run's control plane has webhook configurations of these names pointing at the host
    // controller by URL, which the chart's (by Service) cannot merge into; the lifecycle test
    // installs them for real on a control plane of its own.
    const applicable = parseAllDocuments(manifests)
      .filter((doc) => !/WebhookConfiguration$/.test(String(doc.get('kind'))))
      .map((doc) => doc.toString())
      .join('---\n');
    // Server-side: a client-side apply's last-applied annotation would not fit the largest CRDs.
    const dryRun = await kubectl(
      ['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-n', 'knative-serving', '-f', '-'],
      applicable,
    );
    expect(dryRun.stderr).toBe('');
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toMatch(/deployment.apps\/activator serverside-applied \(server dry run\)/);
    expect(dryRun.stdout).toMatch(
      /customresourcedefinition.apiextensions.k8s.io\/services.serving.knative.dev serverside-applied/,
    );
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
  it("gives the gateway's public and internal Services a port 443 on the TLS listener of their side", async () => {
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
    // cluster-local-domain-tls hosts, dialled at <route>.<ns>.svc:443 through the Route's ExternalName.
    const internal = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'gateway-internal');
    expect(internal.spec.ports.find((p: any) => p.port === 443)).toMatchObject({
      name: 'https',
      targetPort: 'https-internal',
    });
    // The gateway's --internal-tls-port default.
    expect(container.ports.find((p: any) => p.name === 'https-internal')?.containerPort).toBe(8444);
  });

  it('passes the gateway a default certificate from the release namespace only when one is named', async () => {
    const args = (objects: Obj[]): string[] => deployment(objects, 'gateway').spec.template.spec.containers[0].args;
    expect(args(await render()).some((a) => a.startsWith('--default-certificate'))).toBe(false);
    expect(
      flag(await render('gateway.defaultCertificateSecret=wildcard-example-com'), 'gateway', 'default-certificate'),
    ).toBe('knative-serving/wildcard-example-com');
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

    // queue-proxies announce their pods on a port of its own, reached only through a headless
    // Service of that port: the gateway's routes (activator-service) never lead there.
    expect(container.ports).toContainEqual({ name: 'announce', containerPort: ANNOUNCE_PORT });
    expect(container.args).toContain(`--announce-port=${ANNOUNCE_PORT}`);
    expect(service?.spec.ports.map((p: { targetPort: string }) => p.targetPort)).not.toContain('announce');
    const announce = objects.find((o) => o.kind === 'Service' && o.metadata?.name === 'activator-announce');
    expect(announce?.spec).toEqual({
      clusterIP: 'None',
      selector: service?.spec.selector,
      ports: [{ name: 'announce', port: ANNOUNCE_PORT, targetPort: 'announce' }],
    });
    // The activator may read the announce key and no other Secret.
    const role = objects.find((o) => o.kind === 'Role' && o.metadata?.name === 'pilotlight-activator') as Obj & {
      rules: { resources: string[]; resourceNames?: string[]; verbs: string[] }[];
    };
    expect(role.rules.filter((r) => r.resources.includes('secrets'))).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: [ANNOUNCE_KEY_SECRET], verbs: ['get'] },
    ]);
  });

  describe('graceful stops', () => {
    const grace = (objects: Obj[], name: string): number =>
      deployment(objects, name).spec.template.spec.terminationGracePeriodSeconds;
    /** The longest a component's drain takes, in seconds: its quiet period, then its drain timeout. */
    const drainSeconds = (objects: Obj[], name: string): number => {
      const ms = (value: string) => parseGoDuration(value)!;
      return (ms(flag(objects, name, 'drain-quiet-period')) + ms(flag(objects, name, 'drain-timeout'))) / 1000;
    };

    it('gives every component a grace period that outlasts its drain, so none is killed with requests held', async () => {
      const objects = await render();
      // Knative's activator: 45 s of quiet period, then up to 600 s for the requests it holds.
      expect(drainSeconds(objects, 'activator')).toBe(645);
      for (const name of ['activator', 'gateway']) {
        expect(grace(objects, name), name).toBeGreaterThan(drainSeconds(objects, name));
      }
      expect(grace(objects, 'activator')).toBeGreaterThanOrEqual(600);
      // The controller exits on its own 5 s after SIGTERM; the autoscaler releases its Lease.
      expect(grace(objects, 'controller')).toBeGreaterThan(5);
      expect(grace(objects, 'autoscaler')).toBeGreaterThan(5);

      // The grace period follows the drain flags it is derived from.
      const longer = await render('activator.drain.timeoutSeconds=900', 'gateway.drain.quietPeriodSeconds=20');
      expect(drainSeconds(longer, 'activator')).toBe(945);
      expect(grace(longer, 'activator')).toBeGreaterThan(945);
      expect(drainSeconds(longer, 'gateway')).toBe(50);
      expect(grace(longer, 'gateway')).toBeGreaterThan(50);
    });

    it('has PodDisruptionBudgets that let `kubectl drain` evict a component that runs one replica', async () => {
      const objects = await render(
        'controller.replicas=1',
        'autoscaler.replicas=1',
        'activator.replicas=1',
        'gateway.replicas=1',
      );
      const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
      expect(budgets.map((b) => b.metadata?.name).sort()).toEqual(['activator', 'autoscaler', 'controller', 'gateway']);
      for (const budget of budgets) {
        const component = budget.spec.selector.matchLabels['app.kubernetes.io/component'] as string;
        const replicas: number = deployment(objects, component).spec.replicas;
        expect(replicas).toBe(1);
        // The evictions the budget allows with every replica healthy, as the disruption controller computes them.
        const allowed =
          budget.spec.maxUnavailable !== undefined
            ? budget.spec.maxUnavailable
            : replicas - (budget.spec.minAvailable as number);
        expect(allowed, component).toBeGreaterThanOrEqual(1);
      }
      // With the default two activators, one is still taken at a time.
      const defaults = await render();
      expect(
        defaults.find((o) => o.kind === 'PodDisruptionBudget' && o.metadata?.name === 'activator')?.spec,
      ).toMatchObject({
        maxUnavailable: 1,
      });
      expect(deployment(defaults, 'activator').spec.replicas).toBe(2);
    });

    it('runs two replicas of every component, the electing ones named <pod name>_<pod IP>', async () => {
      const objects = await render();
      for (const component of ['controller', 'autoscaler', 'activator', 'gateway'])
        expect(deployment(objects, component).spec.replicas, component).toBe(2);
      for (const component of ['controller', 'autoscaler']) {
        const env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] = deployment(objects, component)
          .spec.template.spec.containers[0].env;
        expect(env.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath, component).toBe('status.podIP');
        expect(env.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, component).toBe('metadata.name');
      }
    });

    // A hostPort is one pod's per node, so a second gateway on the node could never start; the
    // Service publishes the listeners and spreads connections over the ready replicas.
    it("publishes the gateway through its Service's node ports, never a hostPort", async () => {
      const objects = await render(
        'gateway.service.type=NodePort',
        'gateway.service.nodePort=31080',
        'gateway.service.tlsNodePort=31443',
      );
      const service = objects.find((o) => o.kind === 'Service' && o.metadata?.name === 'gateway') as Obj;
      expect(service.spec.type).toBe('NodePort');
      expect(service.spec.ports.map((p: { port: number; nodePort?: number }) => [p.port, p.nodePort])).toEqual([
        [80, 31080],
        [443, 31443],
      ]);
      const ports: { hostPort?: number }[] = deployment(objects, 'gateway').spec.template.spec.containers[0].ports;
      expect(ports.filter((p) => p.hostPort !== undefined)).toEqual([]);
      const defaults = await render();
      const byDefault = defaults.find((o) => o.kind === 'Service' && o.metadata?.name === 'gateway') as Obj;
      expect(byDefault.spec.type).toBe('LoadBalancer');
      expect(byDefault.spec.ports.some((p: { nodePort?: number }) => p.nodePort !== undefined)).toBe(false);
    });

    it('grants the controller Secrets in every namespace only with the certificate issuer on', async () => {
      const ruleFor = (resource: string) => (objects: Obj[]) =>
        (
          objects.find((o) => o.kind === 'ClusterRole' && o.metadata?.name === 'pilotlight-controller') as {
            rules: { resources: string[]; verbs: string[] }[];
          }
        ).rules.find((rule) => rule.resources.includes(resource));
      const secretsRule = ruleFor('secrets');
      const args = (objects: Obj[]) => deployment(objects, 'controller').spec.template.spec.containers[0].args;
      const defaults = await render();
      expect(secretsRule(defaults)).toBeUndefined();
      // Routes make their Certificates whichever class issues them.
      expect(ruleFor('certificates')(defaults)?.verbs).toEqual(['get', 'list', 'watch', 'create', 'update', 'delete']);
      expect(args(defaults)).not.toContain('--certificate-issuer');
      const issuing = await render('certificateIssuer.enabled=true');
      expect(secretsRule(issuing)?.verbs).toEqual(['get', 'list', 'watch', 'create', 'update']);
      expect(args(issuing)).toContain('--certificate-issuer');
      // cert-manager's class writes cert-manager Certificates, never Secrets.
      const certManager = await render('certManager.enabled=true');
      expect(secretsRule(certManager)).toBeUndefined();
      expect(args(certManager)).toContain('--cert-manager');
      const cmRule = (objects: Obj[]) =>
        (
          objects.find((o) => o.kind === 'ClusterRole' && o.metadata?.name === 'pilotlight-controller') as {
            rules: { apiGroups: string[]; verbs: string[] }[];
          }
        ).rules.find((rule) => rule.apiGroups.includes('cert-manager.io'));
      expect(cmRule(defaults)).toBeUndefined();
      expect(cmRule(certManager)?.verbs).toEqual(['get', 'list', 'watch', 'create', 'update']);
    });
  });

  it('refuses to render without an image tag, saying which value is missing', async () => {
    await expect(run(helm, ['template', 'pilotlight', chart])).rejects.toMatchObject({
      stderr: expect.stringMatching(/image.tag is required/),
    });
  });
});
