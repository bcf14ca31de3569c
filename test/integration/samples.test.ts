import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { apply, createNamespace, getJson, mustSucceed } from '../support/kube.ts';

const sample = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'samples', name), 'utf8');

interface Obj {
  metadata: { annotations?: Record<string, string> };
  spec: Record<string, any>;
}

describe('Knative documentation samples are accepted by the real API server', () => {
  it('helloworld gets Knative defaults: traffic, timeout, concurrency, container name, probe', async () => {
    const ns = await createNamespace('hello');
    const out = await mustSucceed(apply(ns, sample('helloworld.yaml')));
    expect(out).toContain('service.serving.knative.dev/hello created');
    const svc = await getJson<Obj>(ns, 'ksvc', 'hello');
    expect(svc.spec.traffic).toEqual([{ latestRevision: true, percent: 100 }]);
    const spec = svc.spec.template.spec;
    expect(spec.timeoutSeconds).toBe(300);
    expect(spec.containerConcurrency).toBe(0);
    expect(spec.containers[0].name).toBe('user-container');
    expect(spec.containers[0].readinessProbe).toEqual({ tcpSocket: { port: 0 }, successThreshold: 1 });
    expect(svc.metadata.annotations?.['serving.knative.dev/creator']).toBe('pilotlight-admin');
    expect(svc.metadata.annotations?.['serving.knative.dev/lastModifier']).toBe('pilotlight-admin');
  });

  it('the autoscaling sample keeps its annotations on the template', async () => {
    const ns = await createNamespace('autoscale');
    await mustSucceed(apply(ns, sample('autoscale.yaml')));
    const svc = await getJson<Obj>(ns, 'ksvc', 'autoscale-go');
    expect(svc.spec.template.metadata.annotations).toMatchObject({
      'autoscaling.knative.dev/target': '10',
      'autoscaling.knative.dev/min-scale': '1',
      'autoscaling.knative.dev/max-scale': '5',
    });
  });

  it('traffic splitting with tags defaults percent and latestRevision per target', async () => {
    const ns = await createNamespace('split');
    await mustSucceed(apply(ns, sample('traffic-split.yaml')));
    const svc = await getJson<Obj>(ns, 'ksvc', 'hello');
    expect(svc.spec.traffic).toEqual([
      { latestRevision: true, percent: 50 },
      { revisionName: 'hello-world', percent: 50, tag: 'current', latestRevision: false },
      { latestRevision: true, tag: 'latest', percent: 0 },
    ]);
  });

  it('the DomainMapping sample and its ClusterDomainClaim are accepted; the ref gets the namespace', async () => {
    const ns = await createNamespace('dm');
    const out = await mustSucceed(apply(ns, sample('domainmapping.yaml')));
    expect(out).toContain('domainmapping.serving.knative.dev/hello.example.org created');
    const dm = await getJson<Obj>(ns, 'dm', 'hello.example.org');
    expect(dm.spec.ref).toEqual({
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      name: 'hello',
      namespace: ns,
    });
  });

  it('a standalone Configuration and Route are accepted', async () => {
    const ns = await createNamespace('cfgroute');
    const documents = parseAllDocuments(sample('configuration-route.yaml')).map((d) => d.toJS() as object);
    const out = await mustSucceed(apply(ns, documents));
    expect(out).toContain('configuration.serving.knative.dev/greeter created');
    expect(out).toContain('route.serving.knative.dev/greeter created');
    const route = await getJson<Obj>(ns, 'route', 'greeter');
    expect(route.spec.traffic).toEqual([
      { configurationName: 'greeter', percent: 100, latestRevision: true },
      { revisionName: 'greeter-00001', percent: 0, tag: 'first', latestRevision: false },
    ]);
    const cfg = await getJson<Obj>(ns, 'configuration', 'greeter');
    expect(cfg.spec.template.spec.containers[0].name).toBe('user-container');
  });
});
