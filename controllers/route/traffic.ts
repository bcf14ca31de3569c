// Resolves a Route's traffic block to revisions (upstream pkg/reconciler/route/traffic/traffic.go).
import type { TrafficTarget } from '../../lib/apis/serving.ts';

/** Traffic of the route as a whole: the key of Targets without a tag. */
export const DEFAULT_TARGET = '';

export interface RevisionTarget {
  tag?: string;
  revisionName: string;
  configurationName?: string;
  latestRevision: boolean;
  percent: number;
  protocol: 'http1' | 'h2c';
}

export interface TrafficLookup {
  /**
   * The latest ready revision of a Configuration and whether its Ready condition is False;
   * undefined when the Configuration does not exist.
   */
  configuration(name: string): { latestReadyRevisionName?: string; failed: boolean } | undefined;
  revision(
    name: string,
  ): { ready: boolean; failed: boolean; protocol: 'http1' | 'h2c'; serviceLabel?: string } | undefined;
}

export type TrafficResult =
  | { ok: true; targets: Map<string, RevisionTarget[]>; revisionTargets: RevisionTarget[] }
  | {
      ok: false;
      reason: 'ConfigurationMissing' | 'RevisionMissing' | 'RevisionNotOwned';
      message: string;
      failed: boolean;
    };

interface SpecTarget extends TrafficTarget {
  configurationName?: string;
}

export function resolveTraffic(
  traffic: SpecTarget[],
  lookup: TrafficLookup,
  routeServiceLabel?: string,
): TrafficResult {
  // "Not ready" waits; a missing or failed target is an error the user must fix. Failures win.
  let pending: TrafficResult | undefined;
  const revisionTargets: RevisionTarget[] = [];
  for (const target of traffic) {
    let revisionName = target.revisionName;
    if (target.configurationName) {
      const cfg = lookup.configuration(target.configurationName);
      if (!cfg)
        return {
          ok: false,
          reason: 'ConfigurationMissing',
          message: `Configuration "${target.configurationName}" referenced in traffic not found.`,
          failed: true,
        };
      revisionName = cfg.latestReadyRevisionName;
      if (!revisionName) {
        // Its latest revision failed and none was ever ready: a failure to report, as upstream, until the Configuration recovers.
        if (cfg.failed)
          return {
            ok: false,
            reason: 'RevisionMissing',
            message: `Configuration "${target.configurationName}" does not have any ready Revision.`,
            failed: true,
          };
        pending ??= {
          ok: false,
          reason: 'RevisionMissing',
          message: `Configuration "${target.configurationName}" is waiting for a Revision to become ready.`,
          failed: false,
        };
        continue;
      }
    }
    if (!revisionName) continue;
    const rev = lookup.revision(revisionName);
    if (!rev)
      return {
        ok: false,
        reason: 'RevisionMissing',
        message: `Revision "${revisionName}" referenced in traffic not found.`,
        failed: true,
      };
    if (target.revisionName && routeServiceLabel && rev.serviceLabel !== routeServiceLabel) {
      return {
        ok: false,
        reason: 'RevisionNotOwned',
        message: `Revision "${revisionName}" belongs to another Service than this route's.`,
        failed: true,
      };
    }
    if (rev.failed)
      return {
        ok: false,
        reason: 'RevisionMissing',
        message: `Revision "${revisionName}" failed to become ready.`,
        failed: true,
      };
    if (!rev.ready) {
      pending ??= {
        ok: false,
        reason: 'RevisionMissing',
        message: `Revision "${revisionName}" is not yet ready.`,
        failed: false,
      };
      continue;
    }
    revisionTargets.push({
      ...(target.tag ? { tag: target.tag } : {}),
      revisionName,
      ...(target.configurationName ? { configurationName: target.configurationName } : {}),
      latestRevision: target.latestRevision ?? !target.revisionName,
      percent: target.percent ?? 0,
      protocol: rev.protocol,
    });
  }
  if (pending) return pending;
  return { ok: true, targets: groupTargets(revisionTargets), revisionTargets };
}

/**
 * Targets per name: all of them under DEFAULT_TARGET, merged by revision, and each tag on its
 * own; a name with one target takes all of that name's traffic, so a tag URL always answers.
 */
export function groupTargets(targets: RevisionTarget[]): Map<string, RevisionTarget[]> {
  const byName = new Map<string, RevisionTarget[]>();
  const add = (name: string, target: RevisionTarget) => {
    const list = byName.get(name) ?? [];
    const same = list.find((t) => t.revisionName === target.revisionName);
    if (same) same.percent += target.percent;
    else list.push({ ...target });
    byName.set(name, list);
  };
  byName.set(DEFAULT_TARGET, []);
  for (const target of targets) {
    add(DEFAULT_TARGET, target);
    if (target.tag) add(target.tag, target);
  }
  for (const list of byName.values()) {
    if (list.length === 1) list[0]!.percent = 100;
  }
  return byName;
}
