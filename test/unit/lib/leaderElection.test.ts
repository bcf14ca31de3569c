// Renew-deadline behaviour needs API failures on cue, which the real server will not give; the
// real-Lease behaviour is in test/integration/lib/leaderElection.test.ts.
import type { ConfigIssue } from '../../../lib/config/parse.ts';
import type { HttpMethod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseLeaderElectionConfig } from '../../../lib/config/leaderElection.ts';
import { LeaderElector, leaderIdentity, leaderIp } from '../../../lib/kube/leaderElection.ts';
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

  it('tells a follower who leads, until that record expires unrenewed and the follower takes over', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(1_700_000_000_000);
    // A holder that crashed: it wrote the Lease once and never renews it.
    api.lease = {
      metadata: { resourceVersion: '1' },
      spec: { holderIdentity: 'ghost_10.0.0.9', leaseDurationSeconds: 15, renewTime: '2023-11-14T22:13:20.000000Z' },
    };
    const follower = new LeaderElector({ client: api, namespace: 'ns', name: 'lease', identity: 'me_10.0.0.1', clock });
    expect(follower.leader()).toBeUndefined();
    follower.start();
    await settle();
    expect(follower.isLeader()).toBe(false);
    expect(follower.leader()).toBe('ghost_10.0.0.9');
    await runFor(clock, 14_000);
    expect(follower.leader()).toBe('ghost_10.0.0.9');
    await runFor(clock, 2_000);
    expect(follower.isLeader()).toBe(true);
    expect(follower.leader()).toBe('me_10.0.0.1');
    expect(api.lease?.spec.holderIdentity).toBe('me_10.0.0.1');
    await follower.stop();
    expect(follower.leader()).toBeUndefined();
  });
});

describe('leader identities', () => {
  it("are Knative's <pod name>_<pod IP>, whose IP the followers read back", () => {
    expect(leaderIdentity('autoscaler-7d9-x2', '10.244.0.7')).toBe('autoscaler-7d9-x2_10.244.0.7');
    expect(leaderIp('autoscaler-7d9-x2_10.244.0.7')).toBe('10.244.0.7');
    expect(leaderIp('pod_with_underscores_fd00::7')).toBe('fd00::7');
  });

  it('name no address outside a pod, yet stay apart on one host', () => {
    const a = leaderIdentity('laptop', undefined);
    const b = leaderIdentity('laptop', '');
    expect(a).toMatch(/^laptop_local-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(leaderIp(a)).toBeUndefined();
    expect(leaderIp('no-separator')).toBeUndefined();
    expect(leaderIp('')).toBeUndefined();
  });
});

describe('config-leader-election', () => {
  it("defaults to 15 s / 10 s / 2 s and reads Knative's keys", () => {
    expect(parseLeaderElectionConfig(undefined)).toEqual({
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
    expect(
      parseLeaderElectionConfig({
        'lease-duration': '60s',
        'renew-deadline': '40s',
        'retry-period': '10s',
        buckets: '1',
      }),
    ).toEqual({ leaseDurationMs: 60_000, renewDeadlineMs: 40_000, retryPeriodMs: 10_000 });
  });

  it('replaces a bad value by its default, naming the key and the rule', () => {
    const issuesOf = (data: Record<string, string>) => {
      const issues: ConfigIssue[] = [];
      const config = parseLeaderElectionConfig(data, (issue) => issues.push(issue));
      return { config, issues };
    };
    const defaults = parseLeaderElectionConfig(undefined);
    expect(issuesOf({ 'lease-duration': 'soon' })).toEqual({
      config: defaults,
      issues: [{ key: 'lease-duration', message: expect.stringMatching(/must be a duration/) }],
    });
    // Its default (10s) would not be shorter either: nothing can stand in, so the process stops.
    expect(() => parseLeaderElectionConfig({ 'lease-duration': '5s', 'renew-deadline': '5s' })).toThrow(
      /renew-deadline: must be shorter than lease-duration/,
    );
    expect(issuesOf({ 'retry-period': '10s' })).toEqual({
      config: defaults,
      issues: [{ key: 'retry-period', message: expect.stringMatching(/must be shorter than renew-deadline/) }],
    });
    expect(issuesOf({ buckets: '10' }).issues).toEqual([
      { key: 'buckets', message: expect.stringMatching(/must be 1/) },
    ]);
  });
});
