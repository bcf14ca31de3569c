import { describe, expect, it } from 'vitest';
import type { Configuration, Service } from '../../../lib/apis/serving.ts';
import { makeRevision, revisionName } from '../../../controllers/configuration/resources/revision.ts';
import { makeConfiguration, makeRoute, withRoute } from '../../../controllers/service/resources/children.ts';

const service: Service = {
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: {
    name: 'hello',
    namespace: 'ns',
    uid: 'svc-uid',
    labels: { team: 'a' },
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
      'serving.knative.dev/rollout-duration': '60s',
      'example.com/note': 'x',
    },
  },
  spec: {
    template: {
      metadata: { annotations: { 'autoscaling.knative.dev/target': '10' } },
      spec: { containers: [{ image: 'dev.local/hello:1' }] },
    },
    traffic: [
      { latestRevision: true, percent: 90 },
      { revisionName: 'hello-00001', percent: 10, tag: 'old', latestRevision: false },
    ],
  },
} as unknown as Service;

const owner = {
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  name: 'hello',
  uid: 'svc-uid',
  controller: true,
  blockOwnerDeletion: true,
};

describe('Service children', () => {
  it('the Configuration carries the template, the service labels and the route annotation', () => {
    const cfg = makeConfiguration(service);
    expect(cfg.metadata).toEqual({
      name: 'hello',
      namespace: 'ns',
      labels: { team: 'a', 'serving.knative.dev/service': 'hello', 'serving.knative.dev/serviceUID': 'svc-uid' },
      annotations: { 'example.com/note': 'x', 'serving.knative.dev/routes': 'hello' },
      ownerReferences: [owner],
    });
    expect(cfg.spec).toEqual({ template: service.spec?.template });
  });

  it('keeps routes that already point at the Configuration', () => {
    const existing = {
      metadata: { annotations: { 'serving.knative.dev/routes': 'other,zeta' } },
    } as unknown as Configuration;
    expect(makeConfiguration(service, existing).metadata?.annotations?.['serving.knative.dev/routes']).toBe(
      'hello,other,zeta',
    );
    expect(withRoute(undefined, 'a')).toBe('a');
  });

  it('the Route points latest targets at the Configuration and keeps pinned ones', () => {
    const route = makeRoute(service);
    expect(route.spec?.traffic).toEqual([
      { latestRevision: true, percent: 90, configurationName: 'hello' },
      { revisionName: 'hello-00001', percent: 10, tag: 'old', latestRevision: false },
    ]);
    expect(route.metadata?.labels).toEqual({ team: 'a', 'serving.knative.dev/service': 'hello' });
    expect(route.metadata?.annotations).toEqual({
      'example.com/note': 'x',
      'serving.knative.dev/rollout-duration': '60s',
    });
  });
});

describe('Configuration → Revision', () => {
  const cfg = {
    ...makeConfiguration(service),
    metadata: {
      ...makeConfiguration(service).metadata,
      uid: 'cfg-uid',
      generation: 3,
      annotations: { 'serving.knative.dev/lastModifier': 'bob' },
    },
  } as Configuration;

  it('names revisions after the generation, or as the template says', () => {
    expect(revisionName(cfg)).toBe('hello-00003');
    expect(
      revisionName({
        ...cfg,
        spec: { template: { metadata: { name: 'hello-blue' }, spec: { containers: [] } } },
      } as never),
    ).toBe('hello-blue');
  });

  it('stamps labels, routing state and creator on the revision', () => {
    const rev = makeRevision(cfg, new Date('2026-11-23T10:00:00.123Z'));
    expect(rev.metadata).toEqual({
      name: 'hello-00003',
      namespace: 'ns',
      labels: {
        'serving.knative.dev/configuration': 'hello',
        'serving.knative.dev/configurationUID': 'cfg-uid',
        'serving.knative.dev/configurationGeneration': '3',
        'serving.knative.dev/service': 'hello',
        'serving.knative.dev/serviceUID': 'svc-uid',
        'serving.knative.dev/routingState': 'pending',
      },
      annotations: {
        'autoscaling.knative.dev/target': '10',
        'serving.knative.dev/routingStateModified': '2026-11-23T10:00:00Z',
        'serving.knative.dev/creator': 'bob',
      },
      ownerReferences: [
        {
          apiVersion: 'serving.knative.dev/v1',
          kind: 'Configuration',
          name: 'hello',
          uid: 'cfg-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    expect(rev.spec).toEqual(service.spec?.template?.spec);
  });

  it('a revision of a routed Configuration starts active', () => {
    const routed = {
      ...cfg,
      metadata: { ...cfg.metadata, annotations: { 'serving.knative.dev/routes': 'hello' } },
    } as Configuration;
    const rev = makeRevision(routed, new Date(0));
    expect(rev.metadata?.labels?.['serving.knative.dev/routingState']).toBe('active');
    expect(rev.metadata?.annotations?.['serving.knative.dev/routes']).toBe('hello');
  });
});
