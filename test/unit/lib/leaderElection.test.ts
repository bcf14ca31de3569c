// Renew-deadline behaviour needs API failures on cue, which the real server will not give; the
// real-Lease behaviour is in test/integration/lib/leaderElection.test.ts.
import type { HttpMethod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { LeaderElector } from '../../../lib/kube/leaderElection.ts';
import { KubeApiError, type KubeRest, type RequestOptions } from '../../../lib/kube/rest.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface StoredLease {
  metadata: { resourceVersion?: string };
  spec: Record<string, unknown>;
}

/** One Lease with resourceVersion preconditions, and an outage switch. */
class LeaseApi implements KubeRest {
  lease: StoredLease | undefined;
  down = false;
  #version = 0;

  async request<T>(method: HttpMethod, _path: string, options: RequestOptions = {}): Promise<T> {
    if (this.down) throw new KubeApiError(503, 'apiserver unavailable');
    const body = options.body as StoredLease;
    if (method === 'GET') {
      if (!this.lease) throw new KubeApiError(404, 'not found');
      return structuredClone(this.lease) as T;
    }
    if (method === 'POST' && this.lease) throw new KubeApiError(409, 'already exists');
    if (method === 'PUT' && body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion)
      throw new KubeApiError(409, 'conflict');
    this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.#version) } };
    return structuredClone(this.lease) as T;
  }

  watch(): AsyncIterable<never> {
    throw new Error('not used');
  }
}

async function runFor(clock: FakeClock, ms: number): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += 1000) {
    await settle();
    clock.advance(1000);
  }
  await settle();
}

describe('LeaderElector', () => {
  it('keeps leading through an outage shorter than renewDeadline, steps down after it, and campaigns again', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(1_700_000_000_000);
    const log: string[] = [];
    const elector = new LeaderElector({
      client: api,
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      clock,
      onStartedLeading: () => {
        log.push(`started@${clock.now()}`);
      },
      onStoppedLeading: () => {
        log.push(`stopped@${clock.now()}`);
      },
    });
    elector.start();
    await settle();
    expect(elector.isLeader()).toBe(true);
    const renewedAt = clock.now();

    api.down = true;
    await runFor(clock, 9_000);
    expect(elector.isLeader()).toBe(true);
    await runFor(clock, 2_000);
    expect(elector.isLeader()).toBe(false);
    expect(log).toEqual([`started@${renewedAt}`, `stopped@${renewedAt + 10_000}`]);

    api.down = false;
    await runFor(clock, 2_000);
    expect(elector.isLeader()).toBe(true);
    expect(log).toHaveLength(3);
    await elector.stop();
    expect(api.lease?.spec.holderIdentity).toBeUndefined();
  });

  it('rejects timings where renewing could not keep the lease', () => {
    const api = new LeaseApi();
    expect(
      () =>
        new LeaderElector({
          client: api,
          namespace: 'ns',
          name: 'l',
          identity: 'me',
          leaseDurationMs: 5000,
          renewDeadlineMs: 5000,
        }),
    ).toThrow(/leaseDuration > renewDeadline/);
  });
});
