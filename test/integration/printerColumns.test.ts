import { describe, expect, it } from 'vitest';
import { apply, createNamespace, kubectl, mustSucceed } from '../support/kube.ts';

describe("kubectl get shows Knative's columns", () => {
  it('kubectl get ksvc prints URL, LATESTCREATED, LATESTREADY, READY, REASON and CANARY from status', async () => {
    const ns = await createNamespace('columns');
    await mustSucceed(
      apply(ns, {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name: 'hello' },
        spec: { template: { spec: { containers: [{ image: 'dev.local/hello:1' }] } } },
      }),
    );
    const status = {
      status: {
        url: 'http://hello.columns.example.com',
        latestCreatedRevisionName: 'hello-00002',
        latestReadyRevisionName: 'hello-00001',
        conditions: [{ type: 'Ready', status: 'Unknown', reason: 'RevisionMissing' }],
      },
    };
    await mustSucceed(
      kubectl([
        'patch',
        'ksvc',
        'hello',
        '-n',
        ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify(status),
      ]),
    );
    const table = await mustSucceed(kubectl(['get', 'ksvc', '-n', ns]));
    const [header, row] = table
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/));
    // Knative's six columns, in its order, then pilotlight's canary state (empty without a canary).
    expect(header).toEqual(['NAME', 'URL', 'LATESTCREATED', 'LATESTREADY', 'READY', 'REASON', 'CANARY']);
    expect(row).toEqual([
      'hello',
      'http://hello.columns.example.com',
      'hello-00002',
      'hello-00001',
      'Unknown',
      'RevisionMissing',
    ]);
  });

  it('kubectl get dm prints URL, READY and REASON from status', async () => {
    const ns = await createNamespace('columns');
    const name = `${ns}.example.org`;
    await mustSucceed(
      apply(ns, {
        apiVersion: 'serving.knative.dev/v1beta1',
        kind: 'DomainMapping',
        metadata: { name },
        spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' } },
      }),
    );
    const status = {
      status: {
        url: `http://${name}`,
        conditions: [{ type: 'Ready', status: 'False', reason: 'DomainAlreadyClaimed' }],
      },
    };
    await mustSucceed(
      kubectl(['patch', 'dm', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]),
    );
    const table = await mustSucceed(kubectl(['get', 'dm', '-n', ns]));
    const [header, row] = table
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/));
    expect(header).toEqual(['NAME', 'URL', 'READY', 'REASON']);
    expect(row).toEqual([name, `http://${name}`, 'False', 'DomainAlreadyClaimed']);
  });

  it('short names resolve for every kind', async () => {
    const resources = await mustSucceed(kubectl(['api-resources', '--api-group=serving.knative.dev', '-o', 'wide']));
    for (const [kind, short] of [
      ['services', 'kservice,ksvc'],
      ['configurations', 'config,cfg,kcfg'],
      ['revisions', 'rev'],
      ['routes', 'rt'],
      ['domainmappings', 'dm'],
    ]) {
      expect(resources).toMatch(new RegExp(`^${kind}\\s+${short}\\s`, 'm'));
    }
    const internal = await mustSucceed(kubectl(['api-resources', '-o', 'name', '--categories=knative-internal']));
    expect(internal.trim().split('\n').sort()).toEqual([
      'certificates.networking.internal.knative.dev',
      'clusterdomainclaims.networking.internal.knative.dev',
      'ingresses.networking.internal.knative.dev',
      'podautoscalers.autoscaling.internal.knative.dev',
      'serverlessservices.networking.internal.knative.dev',
    ]);
    for (const short of ['kpa', 'kingress', 'sks', 'cdc', 'kcert', 'dm']) {
      expect((await kubectl(['get', short, '-A'])).code).toBe(0);
    }
  });
});
