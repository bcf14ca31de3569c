import type { Route, Revision, Configuration } from '../../../lib/apis/serving.ts';
import { describe, expect, it } from 'vitest';
import { referencedBy, routingPatches } from '../../../controllers/route/labeler.ts';

const now = new Date('2026-01-02T03:04:05.678Z');

const rev = (name: string, state?: string, routes?: string): Revision => ({
  metadata: {
    name,
    labels: state ? { 'serving.knative.dev/routingState': state } : {},
    annotations: routes ? { 'serving.knative.dev/routes': routes } : {},
  },
});

const route: Route = {
  metadata: { name: 'web' },
  spec: {
    traffic: [
      { configurationName: 'web', latestRevision: true, percent: 90 },
      { revisionName: 'web-00001', percent: 10 },
    ] as never,
  },
  status: { traffic: [{ revisionName: 'web-00002', percent: 90 }] },
};
const cfg: Configuration = { metadata: { name: 'web' }, status: { latestCreatedRevisionName: 'web-00003' } };

describe('referencedBy', () => {
  it('takes named revisions, status revisions and the latest created revision of configuration targets', () => {
    const referenced = referencedBy(route, {
      configuration: (name) => (name === 'web' ? cfg : undefined),
      revision: () => undefined,
    });
    expect([...referenced.revisions].sort()).toEqual(['web-00001', 'web-00002', 'web-00003']);
    expect([...referenced.configurations]).toEqual(['web']);
  });

  it('counts the Configuration that controls a pinned revision as referenced', () => {
    const pinned: Route = {
      metadata: { name: 'web' },
      spec: { traffic: [{ revisionName: 'web-00001', percent: 100 }] as never },
    };
    const owned = {
      ...rev('web-00001'),
      metadata: {
        name: 'web-00001',
        ownerReferences: [
          { apiVersion: 'serving.knative.dev/v1', kind: 'Configuration', name: 'web', uid: 'u', controller: true },
        ],
      },
    };
    const referenced = referencedBy(pinned, {
      configuration: () => cfg,
      revision: (name) => (name === 'web-00001' ? owned : undefined),
    });
    expect([...referenced.revisions]).toEqual(['web-00001']);
    expect([...referenced.configurations]).toEqual(['web']);
  });
});

describe('routingPatches', () => {
  const referenced = { revisions: new Set(['web-00002']), configurations: new Set(['web']) };

  it('marks a newly referenced revision active and records when', () => {
    const patches = routingPatches('web', referenced, [rev('web-00002', 'pending')], [], { allowRemoval: false, now });
    expect(patches).toEqual([
      {
        kind: 'revision',
        name: 'web-00002',
        patch: {
          metadata: {
            labels: { 'serving.knative.dev/routingState': 'active' },
            annotations: {
              'serving.knative.dev/routes': 'web',
              'serving.knative.dev/routingStateModified': '2026-01-02T03:04:05Z',
            },
          },
        },
      },
    ]);
  });

  it('sends an unreferenced revision to reserve only when removal is allowed', () => {
    const revisions = [rev('web-00001', 'active', 'web'), rev('web-00002', 'active', 'web')];
    expect(routingPatches('web', referenced, revisions, [], { allowRemoval: false, now })).toEqual([]);
    expect(routingPatches('web', referenced, revisions, [], { allowRemoval: true, now })).toEqual([
      {
        kind: 'revision',
        name: 'web-00001',
        patch: {
          metadata: {
            labels: { 'serving.knative.dev/routingState': 'reserve' },
            annotations: {
              'serving.knative.dev/routes': null,
              'serving.knative.dev/routingStateModified': '2026-01-02T03:04:05Z',
            },
          },
        },
      },
    ]);
  });

  it('keeps a revision another route still uses active', () => {
    const patches = routingPatches('web', referenced, [rev('web-00001', 'active', 'other,web')], [], {
      allowRemoval: true,
      now,
    });
    expect(patches).toEqual([
      {
        kind: 'revision',
        name: 'web-00001',
        patch: { metadata: { annotations: { 'serving.knative.dev/routes': 'other' } } },
      },
    ]);
  });

  it('adds the route to referenced configurations, keeping others sorted', () => {
    const patches = routingPatches(
      'web',
      referenced,
      [],
      [{ metadata: { name: 'web', annotations: { 'serving.knative.dev/routes': 'zeta' } } }],
      { allowRemoval: false, now },
    );
    expect(patches).toEqual([
      {
        kind: 'configuration',
        name: 'web',
        patch: { metadata: { annotations: { 'serving.knative.dev/routes': 'web,zeta' } } },
      },
    ]);
  });

  it('leaves a never-routed pending revision alone', () => {
    expect(routingPatches('web', referenced, [rev('web-00009', 'pending')], [], { allowRemoval: true, now })).toEqual(
      [],
    );
  });
});
