import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { RevisionConditions } from '../../../lib/apis/conditions.ts';
import type { RevisionStatus } from '../../../lib/apis/status.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';
import {
  isFailing,
  propagateAutoscalerStatus,
  propagateDeploymentStatus,
} from '../../../controllers/revision/status.ts';

function manage() {
  const status: RevisionStatus = {};
  const manager = RevisionConditions.manage(status, new FakeClock(0));
  manager.initialize();
  return { status, manager };
}

const deployment = (status: V1Deployment['status'], replicas = 1): V1Deployment => ({
  spec: { replicas, selector: {}, template: {} },
  status,
});
const progressing = (status: string, reason: string, message = '') => ({
  type: 'Progressing',
  status,
  reason,
  message,
});

const pod = (containerStatuses: object[], conditions: object[] = [{ type: 'PodScheduled', status: 'True' }]): V1Pod =>
  ({ status: { conditions, containerStatuses } }) as V1Pod;

describe('propagateDeploymentStatus', () => {
  it('is Deploying until the Deployment reports progress', () => {
    const { manager } = manage();
    propagateDeploymentStatus(manager, deployment(undefined), []);
    expect(manager.get('ResourcesAvailable')).toMatchObject({ status: 'Unknown', reason: 'Deploying' });
    expect(manager.get('Ready')?.status).toBe('Unknown');
  });

  it('is Ready once the Deployment progresses and has a ready replica', () => {
    const { manager } = manage();
    propagateDeploymentStatus(
      manager,
      deployment({
        readyReplicas: 1,
        availableReplicas: 1,
        conditions: [progressing('True', 'NewReplicaSetAvailable')],
      }),
      [],
    );
    expect(manager.get('Ready')?.status).toBe('True');
  });

  it('reports ProgressDeadlineExceeded from the Deployment', () => {
    const { manager } = manage();
    propagateDeploymentStatus(
      manager,
      deployment({
        conditions: [progressing('False', 'ProgressDeadlineExceeded', 'ReplicaSet "x" has timed out progressing.')],
      }),
      [],
    );
    expect(manager.get('ResourcesAvailable')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
      message: 'ReplicaSet "x" has timed out progressing.',
    });
  });

  it('names a crash loop by the exit code of the user container, not queue-proxy', () => {
    const { manager } = manage();
    propagateDeploymentStatus(manager, deployment({ availableReplicas: 0 }), [
      pod([
        { name: 'queue-proxy', lastState: { terminated: { exitCode: 9 } } },
        { name: 'user-container', lastState: { terminated: { exitCode: 137, message: 'OOMKilled' } } },
      ]),
    ]);
    expect(manager.get('ContainerHealthy')).toMatchObject({
      status: 'False',
      reason: 'ExitCode137',
      message: 'Container failed with: OOMKilled',
    });
  });

  it('reports an image pull failure at once, other waiting reasons only after the deadline', () => {
    const pulling = manage();
    propagateDeploymentStatus(pulling.manager, deployment({}), [
      pod([{ name: 'user-container', state: { waiting: { reason: 'ErrImagePull', message: 'not found' } } }]),
    ]);
    expect(pulling.manager.get('ResourcesAvailable')).toMatchObject({
      status: 'False',
      reason: 'ErrImagePull',
      message: 'not found',
    });

    const creating = manage();
    propagateDeploymentStatus(creating.manager, deployment({}), [
      pod([{ name: 'user-container', state: { waiting: { reason: 'ContainerCreating' } } }]),
    ]);
    expect(creating.manager.get('ResourcesAvailable')?.status).toBe('Unknown');
  });

  it('reports an unschedulable pod with the scheduler reason', () => {
    const { manager } = manage();
    propagateDeploymentStatus(manager, deployment({}), [
      pod(
        [],
        [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available: 1 Insufficient cpu.',
          },
        ],
      ),
    ]);
    expect(manager.get('ResourcesAvailable')).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
      message: '0/1 nodes are available: 1 Insufficient cpu.',
    });
  });

  it('leaves pods alone when no replicas are wanted', () => {
    const { manager } = manage();
    propagateDeploymentStatus(manager, deployment({}, 0), [
      pod([{ name: 'user-container', lastState: { terminated: { exitCode: 1 } } }]),
    ]);
    expect(manager.get('ContainerHealthy')?.status).toBe('Unknown');
  });
});

describe('propagateAutoscalerStatus', () => {
  const paStatus = (ready: string, initialized: boolean, serviceName?: string) => ({
    status: {
      serviceName,
      actualScale: 2,
      desiredScale: 3,
      conditions: [
        { type: 'Ready', status: ready as 'True' },
        { type: 'ScaleTargetInitialized', status: (initialized ? 'True' : 'Unknown') as 'True' },
      ],
    },
  });

  it('copies scale counts and makes an initialized scale target ready and active', () => {
    const { status, manager } = manage();
    propagateAutoscalerStatus(status, manager, paStatus('True', true, 'rev'));
    expect(status).toMatchObject({ actualReplicas: 2, desiredReplicas: 3 });
    expect(manager.get('Ready')?.status).toBe('True');
    expect(manager.get('Active')?.status).toBe('True');
  });

  it('fails a revision whose autoscaler gave up before initial scale was reached', () => {
    const { status, manager } = manage();
    propagateAutoscalerStatus(status, manager, paStatus('False', false, 'rev'));
    expect(manager.get('ResourcesAvailable')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
      message: 'Initial scale was never achieved',
    });
  });

  it('marks Active unknown while the autoscaler has said nothing', () => {
    const { status, manager } = manage();
    propagateAutoscalerStatus(status, manager, {});
    expect(manager.get('Active')).toMatchObject({ status: 'Unknown', reason: 'Deploying' });
  });
});

describe('isFailing', () => {
  it('holds when a condition failed, replicas are wanted and none is ready', () => {
    const { manager } = manage();
    manager.markFalse('ContainerHealthy', 'ExitCode1', 'Container failed with: x');
    expect(isFailing(manager, deployment({ readyReplicas: 0 }))).toBe(true);
    expect(isFailing(manager, deployment({ readyReplicas: 1 }))).toBe(false);
  });
});
