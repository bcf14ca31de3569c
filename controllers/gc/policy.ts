// Which revisions of a Configuration to delete (upstream pkg/reconciler/gc/gc.go): only ones no
// route uses, never the latest ready one or one marked no-gc; stale ones first, oldest first,
// keeping min-non-active; then the oldest beyond max-non-active.
import { Annotations, Labels } from '../../lib/apis/serving.ts';
import type { GcConfig } from '../../lib/config/gc.ts';

export interface RevisionMeta {
  name: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const lastActive = (rev: RevisionMeta) =>
  Date.parse(rev.annotations?.[Annotations.routingStateModified] ?? rev.creationTimestamp);

function isStale(config: GcConfig, rev: RevisionMeta, now: number): boolean {
  const { retainSinceCreateMs: sinceCreate, retainSinceLastActiveMs: sinceActive } = config;
  if (sinceCreate === 'disabled' && sinceActive === 'disabled') return false;
  if (sinceCreate !== 'disabled' && now - Date.parse(rev.creationTimestamp) < sinceCreate) return false;
  if (sinceActive !== 'disabled' && now - lastActive(rev) < sinceActive) return false;
  return true;
}

export function revisionsToDelete(
  revisions: RevisionMeta[],
  latestReady: string | undefined,
  config: GcConfig,
  now: number,
): string[] {
  const { minNonActive: min, maxNonActive: max } = config;
  if (max === 'disabled' && config.retainSinceCreateMs === 'disabled' && config.retainSinceLastActiveMs === 'disabled')
    return [];
  if (revisions.length <= min) return [];
  const nonActive = revisions
    .filter(
      (r) =>
        r.name !== latestReady &&
        r.annotations?.[Annotations.noGC] !== 'true' &&
        r.labels?.[Labels.routingState] === 'reserve',
    )
    .sort((a, b) => lastActive(a) - lastActive(b));
  if (nonActive.length <= min) return [];

  const doomed: string[] = [];
  const deletableByAge = nonActive.length - min;
  for (const rev of nonActive) {
    if (doomed.length >= deletableByAge) return doomed;
    if (isStale(config, rev, now)) doomed.push(rev.name);
  }
  const remaining = nonActive.filter((r) => !doomed.includes(r.name));
  if (max === 'disabled' || remaining.length <= max) return doomed;
  return [...doomed, ...remaining.slice(0, remaining.length - max).map((r) => r.name)];
}
