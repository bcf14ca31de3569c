// What a platform team sets in charts/pilotlight, through the real helm: the schema refuses bad
// values naming them, and each value lands where it should in every component.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensureTool } from '../../../cli/cluster/binaries.ts';
import { WEBHOOK_CERTS_SECRET } from '../../../controllers/webhook/certificates.ts';
import { makeWebhookConfigurations } from '../../../controllers/webhook/registration.ts';
import { CHART, findRendered, helmRun, type Rendered, renderChart } from '../../support/helm.ts';

const COMPONENTS = ['controller', 'autoscaler', 'activator', 'gateway'];
const CRD_DIR = join(import.meta.dirname, '..', '..', '..', 'crds');

let helm: string;
// On empty caches helm is built from the Go module proxy first: minutes, not part of the test.
beforeAll(async () => {
  helm = await ensureTool('helm');
}, 20 * 60_000);

const podSpec = (objects: Rendered[], component: string) =>
  findRendered(objects, 'Deployment', component).spec.template.spec;
const container = (objects: Rendered[], component: string) => podSpec(objects, component).containers[0];

describe('values.schema.json', () => {
  it.each([
    ['gateway.replicas=two', "at '/gateway/replicas': got string, want integer"],
    ['gateway.service.type=Ingress', "at '/gateway/service/type': value must be one of"],
    ['image.pullPolicy=Sometimes', "at '/image/pullPolicy': value must be one of"],
    ['gatway.replicas=1', "additional properties 'gatway' not allowed"],
    ['controller.nodeSelector.pool=1', "at '/controller/nodeSelector/pool': got number, want string"],
    ['metrics.monitor.interval=often', "at '/metrics/monitor/interval'"],
  ])('fails helm template and helm lint on %s, naming the value', async (set, message) => {
    await expect(renderChart(helm, '--set', set)).rejects.toMatchObject({ stderr: expect.stringContaining(message) });
    await expect(helmRun(helm, ['lint', CHART, '--set', 'image.tag=test', '--set', set])).rejects.toMatchObject({
      stdout: expect.stringContaining(message),
    });
  });

  it('refuses a toleration given as a map rather than a list', async () => {
    await expect(renderChart(helm, '--set-json', 'activator.tolerations={"key":"x"}')).rejects.toMatchObject({
      stderr: expect.stringContaining("at '/activator/tolerations': got object, want array"),
    });
  });

  it('describes every value of values.yaml by name, so a new value cannot go unchecked', () => {
    type Node = { $ref?: string; properties?: Record<string, Node>; additionalProperties?: Node | boolean };
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Node & {
      definitions: Record<string, Node>;
    };
    const resolve = (node: Node): Node => (node.$ref ? schema.definitions[node.$ref.split('/').at(-1)!]! : node);
    const missing: string[] = [];
    const walk = (value: unknown, node: Node, path: string) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
      for (const [key, child] of Object.entries(value)) {
        const named = resolve(node).properties?.[key];
        const mapEntry = resolve(node).additionalProperties;
        if (named) walk(child, named, `${path}.${key}`);
        // A map of free keys (a ConfigMap's data, resources) is typed by additionalProperties.
        else if (typeof mapEntry !== 'object') missing.push(`${path}.${key}`);
      }
    };
    walk(parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')), schema, '');
    expect(missing).toEqual([]);
  });
});

describe('probes', () => {
  it('gives every component a liveness probe and a readiness probe on ports its container declares', async () => {
    const objects = await renderChart(helm);
    for (const component of COMPONENTS) {
      const c = container(objects, component);
      const ports = new Set(c.ports.map((p: { name: string }) => p.name));
      for (const probe of [c.livenessProbe, c.readinessProbe]) {
        expect(probe, component).toBeDefined();
        expect(ports, component).toContain((probe.httpGet ?? probe.tcpSocket).port);
      }
    }
    // Readiness that means something: the controller's reports its informers and webhook, the
    // activator's and the gateway's fail from SIGTERM on; liveness only asks whether it answers.
    expect(container(objects, 'controller').readinessProbe.httpGet).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
    expect(container(objects, 'controller').livenessProbe.httpGet).toMatchObject({ path: '/healthz', scheme: 'HTTPS' });
    expect(container(objects, 'activator').readinessProbe.httpGet).toMatchObject({ port: 'http' });
    expect(container(objects, 'gateway').readinessProbe.httpGet).toMatchObject({ path: '/readyz' });
    expect(container(objects, 'gateway').livenessProbe.httpGet).toMatchObject({ path: '/healthz' });
  });
});

describe('scheduling', () => {
  it("puts each component's nodeSelector, tolerations, affinity, spread, priority and pull secrets in its pods only", async () => {
    const placement = (component: string) => ({
      nodeSelector: { pool: component },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: component, effect: 'NoSchedule' }],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { 'app.kubernetes.io/component': component } },
        },
      ],
      priorityClassName: `${component}-critical`,
      imagePullSecrets: [{ name: `${component}-pull` }],
    });
    const objects = await renderChart(
      helm,
      '--set-json',
      'imagePullSecrets=[{"name":"everyone"}]',
      ...COMPONENTS.flatMap((component) => ['--set-json', `${component}=${JSON.stringify(placement(component))}`]),
    );
    for (const component of COMPONENTS) {
      const { imagePullSecrets, ...knobs } = placement(component);
      expect(podSpec(objects, component), component).toMatchObject({
        ...knobs,
        imagePullSecrets: [{ name: 'everyone' }, ...imagePullSecrets],
      });
    }

    const defaults = await renderChart(helm);
    for (const component of COMPONENTS) {
      const spec = podSpec(defaults, component);
      for (const knob of Object.keys(placement(component))) expect(spec[knob], `${component} ${knob}`).toBeUndefined();
    }
  });
});

describe("the gateway's Service", () => {
  const service = (objects: Rendered[]) => findRendered(objects, 'Service', 'gateway');

  it('is a LoadBalancer by default, publishing only the external listeners and no hostPort', async () => {
    const objects = await renderChart(helm);
    expect(service(objects).spec).toMatchObject({ type: 'LoadBalancer', externalTrafficPolicy: 'Cluster' });
    expect(service(objects).spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual([
      'http-external',
      'https-external',
    ]);
    for (const port of container(objects, 'gateway').ports) expect(port.hostPort, port.name).toBeUndefined();
  });

  it('takes NodePort with fixed node ports, or ClusterIP', async () => {
    const nodePort = await renderChart(
      helm,
      '--set',
      'gateway.service.type=NodePort',
      '--set',
      'gateway.service.tlsNodePort=30443',
      '--set',
      'gateway.service.externalTrafficPolicy=Local',
      '--set-string',
      'gateway.service.annotations.example\\.com/internal=true',
    );
    expect(service(nodePort).metadata.annotations).toEqual({ 'example.com/internal': 'true' });
    expect(service(nodePort).spec).toMatchObject({ type: 'NodePort', externalTrafficPolicy: 'Local' });
    expect(service(nodePort).spec.ports.map((p: { nodePort?: number }) => p.nodePort)).toEqual([undefined, 30443]);

    const clusterIp = await renderChart(helm, '--set', 'gateway.service.type=ClusterIP');
    expect(service(clusterIp).spec.type).toBe('ClusterIP');
    expect(service(clusterIp).spec.externalTrafficPolicy).toBeUndefined();
  });
});

describe('metrics', () => {
  const selects = (service: Rendered, pod: Record<string, string>) =>
    Object.entries(service.spec.selector as Record<string, string>).every(([key, value]) => pod[key] === value);

  it('gives every component a Service port http-metrics on a port its pods serve /metrics on', async () => {
    const objects = await renderChart(helm);
    const services = objects.filter((o) => o.kind === 'Service');
    for (const component of COMPONENTS) {
      const pod = findRendered(objects, 'Deployment', component).spec.template;
      const metrics = services
        .filter((service) => selects(service, pod.metadata.labels))
        .flatMap((service) => service.spec.ports.filter((p: { name: string }) => p.name === 'http-metrics'));
      expect(metrics, component).toHaveLength(1);
      expect(metrics[0].port, component).toBe(9090);
      const target = pod.spec.containers[0].ports.find((p: { name: string }) => p.name === metrics[0].targetPort);
      expect(target, component).toBeDefined();
    }
  });

  it('scrapes every component with a ServiceMonitor or a PodMonitor only when asked', async () => {
    expect((await renderChart(helm)).filter((o) => o.apiVersion === 'monitoring.coreos.com/v1')).toEqual([]);

    const withServiceMonitor = await renderChart(
      helm,
      '--set',
      'metrics.monitor.enabled=true',
      '--set',
      'metrics.monitor.labels.release=prometheus',
    );
    const serviceMonitor = findRendered(withServiceMonitor, 'ServiceMonitor', 'pilotlight');
    expect(serviceMonitor.metadata.labels?.release).toBe('prometheus');
    expect(serviceMonitor.spec.endpoints).toEqual([{ port: 'http-metrics', path: '/metrics', interval: '30s' }]);
    const matchLabels: Record<string, string> = serviceMonitor.spec.selector.matchLabels;
    const scraped = withServiceMonitor.filter(
      (o) =>
        o.kind === 'Service' &&
        Object.entries(matchLabels).every(([key, value]) => o.metadata.labels?.[key] === value) &&
        o.spec.ports.some((p: { name: string }) => p.name === 'http-metrics'),
    );
    expect(scraped.map((s) => s.metadata.name).sort()).toEqual([
      'activator-service',
      'autoscaler',
      'gateway-admin',
      'webhook',
    ]);

    const withPodMonitor = await renderChart(
      helm,
      '--set',
      'metrics.monitor.enabled=true',
      '--set',
      'metrics.monitor.kind=PodMonitor',
    );
    const podMonitor = findRendered(withPodMonitor, 'PodMonitor', 'pilotlight');
    const portNames = podMonitor.spec.podMetricsEndpoints.map((e: { port: string }) => e.port);
    for (const component of COMPONENTS) {
      const pod = findRendered(withPodMonitor, 'Deployment', component).spec.template;
      expect(Object.entries(podMonitor.spec.selector.matchLabels).every(([k, v]) => pod.metadata.labels[k] === v)).toBe(
        true,
      );
      const scrapedPorts = pod.spec.containers[0].ports.filter((p: { name: string }) => portNames.includes(p.name));
      expect(scrapedPorts, component).toHaveLength(1);
    }
  });
});

describe('aggregated roles for namespace users', () => {
  it("extends Kubernetes' admin, edit and view with Knative's kinds, as Knative does", async () => {
    const objects = await renderChart(helm);
    const role = (name: string) => findRendered(objects, 'ClusterRole', `pilotlight-namespaced-${name}`);
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const verbsOn = (name: string, group: string): string[] =>
      (role(name).rules as Rule[]).filter((r) => r.apiGroups.includes(group)).flatMap((r) => r.verbs);
    for (const name of ['admin', 'edit', 'view'])
      expect(role(name).metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${name}`]).toBe('true');
    expect(verbsOn('admin', 'serving.knative.dev')).toEqual(['*']);
    // edit's read comes through view, which Kubernetes aggregates into edit.
    expect(verbsOn('edit', 'serving.knative.dev')).toEqual(['create', 'update', 'patch', 'delete']);
    expect(verbsOn('view', 'serving.knative.dev')).toEqual(['get', 'list', 'watch']);
    for (const name of ['admin', 'edit', 'view']) {
      for (const group of ['networking.internal.knative.dev', 'autoscaling.internal.knative.dev'])
        expect(verbsOn(name, group), `${name} ${group}`).toEqual(['get', 'list', 'watch']);
    }
  });
});

describe('CRDs', () => {
  const crdFiles = readdirSync(CRD_DIR).filter((file) => file.endsWith('.yaml'));

  it('renders every CRD of crds/ unchanged, kept on uninstall unless crds.keep is false', async () => {
    const objects = await renderChart(helm);
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds).toHaveLength(crdFiles.length);
    for (const file of crdFiles) {
      const source = parse(readFileSync(join(CRD_DIR, file), 'utf8'));
      const rendered = findRendered(objects, 'CustomResourceDefinition', source.metadata.name);
      expect(rendered.spec, file).toEqual(source.spec);
      expect(rendered.metadata.labels).toMatchObject(source.metadata.labels);
      expect(rendered.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    }
    const deleted = await renderChart(helm, '--set', 'crds.keep=false');
    for (const crd of deleted.filter((o) => o.kind === 'CustomResourceDefinition'))
      expect(crd.metadata.annotations).toBeUndefined();
    const none = await renderChart(helm, '--set', 'crds.install=false');
    expect(none.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
  });
});

describe("the webhook's objects", () => {
  it('renders a shell of every configuration the controller registers, and its Secret, under its names', async () => {
    const objects = await renderChart(helm);
    const args: string[] = container(objects, 'controller').args;
    const serviceName = args[args.indexOf('--webhook-service') + 1] ?? '--webhook-service not passed';
    // What the controller writes at start: each must be a release object, or uninstall leaves it.
    const registered = Object.values(
      makeWebhookConfigurations(
        { service: { namespace: 'knative-serving', name: serviceName, port: 443 } },
        'CA',
        'knative-serving',
      ),
    );
    expect(registered.length).toBeGreaterThanOrEqual(2);
    for (const { kind, metadata } of registered) {
      const name = metadata?.name ?? '';
      const configuration = findRendered(objects, kind ?? '', name);
      expect(configuration.webhooks).toHaveLength(1);
      expect(configuration.webhooks[0].name).toBe(name);
      expect(configuration.webhooks[0].clientConfig.service).toEqual({
        name: serviceName,
        namespace: 'knative-serving',
      });
      // No rules until the controller writes them with the CA bundle: nothing is sent to a
      // webhook that cannot be trusted yet.
      expect(configuration.webhooks[0].rules).toBeUndefined();
    }
    expect(findRendered(objects, 'Service', serviceName).spec.ports).toEqual(
      expect.arrayContaining([{ name: 'https-webhook', port: 443, targetPort: 'https-webhook' }]),
    );
    const secret = findRendered(objects, 'Secret', WEBHOOK_CERTS_SECRET);
    expect(secret.metadata.namespace).toBe('knative-serving');
    expect(secret.data).toBeUndefined();
  });
});
