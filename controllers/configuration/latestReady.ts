// Which revision a Configuration calls latest ready (upstream findAndSetLatestReadyRevision). Pure.
import { Labels, type Revision } from '../../lib/apis/serving.ts';
import { isReady } from '../../lib/apis/status.ts';

const generationOf = (rev: Revision) => Number(rev.metadata?.labels?.[Labels.configurationGeneration] ?? NaN);

/**
 * The ready revision of the newest generation between the current latest ready one and the
 * Configuration's generation: readiness never moves backwards to an older generation, and a
 * revision that became ready late does not displace a newer one.
 */
export function pickLatestReady(
  revisions: Revision[],
  current: string | undefined,
  generation: number,
): string | undefined {
  const currentRev = revisions.find((r) => r.metadata?.name === current);
  const floor = currentRev ? generationOf(currentRev) : 0;
  let best: Revision | undefined;
  for (const rev of revisions) {
    const gen = generationOf(rev);
    if (!(gen >= floor && gen <= generation) || !isReady(rev)) continue;
    if (!best || gen > generationOf(best)) best = rev;
  }
  return best?.metadata?.name ?? current;
}
