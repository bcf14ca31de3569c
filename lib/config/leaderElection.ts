// config-leader-election: how the controller and the autoscaler elect their leader (upstream
// knative.dev/pkg/leaderelection/config.go), read once at start as upstream does. pilotlight
// keeps one Lease per component (adr/0011), so `buckets` may only be 1; its timings default to
// client-go's 15 s / 10 s / 2 s rather than Knative's 60 s / 40 s / 10 s, so a replica that dies
// without releasing its Lease is replaced in seconds, not a minute.
import { z } from 'zod';
import { type ConfigIssueReporter, durationString, intString, parseConfigMap } from './parse.ts';

export const CONFIG_LEADER_ELECTION = 'config-leader-election';

export const leaderElectionSchema = z
  .object({
    'lease-duration': durationString({ minMs: 1 }).default(15_000),
    'renew-deadline': durationString({ minMs: 1 }).default(10_000),
    'retry-period': durationString({ minMs: 1 }).default(2_000),
    buckets: intString({ min: 1 }).default(1),
  })
  .superRefine((c, ctx) => {
    if (c.buckets !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['buckets'],
        message: 'must be 1: pilotlight elects one leader per component',
      });
    if (c['renew-deadline'] >= c['lease-duration'])
      ctx.addIssue({ code: 'custom', path: ['renew-deadline'], message: 'must be shorter than lease-duration' });
    if (c['retry-period'] >= c['renew-deadline'])
      ctx.addIssue({ code: 'custom', path: ['retry-period'], message: 'must be shorter than renew-deadline' });
  })
  .transform((c) => ({
    leaseDurationMs: c['lease-duration'],
    renewDeadlineMs: c['renew-deadline'],
    retryPeriodMs: c['retry-period'],
  }));

export type LeaderElectionConfig = z.output<typeof leaderElectionSchema>;

export function parseLeaderElectionConfig(
  data: Record<string, string> | undefined,
  report?: ConfigIssueReporter,
): LeaderElectionConfig {
  return parseConfigMap(CONFIG_LEADER_ELECTION, leaderElectionSchema, data, report);
}
