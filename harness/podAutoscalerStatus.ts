// PodAutoscaler statuses a test or benchmark writes itself to start a revision somewhere
// the autoscaler would take minutes to bring it.

const HOUR_MS = 3_600_000;

/** Inactive for an hour before nowMs, its target initialized: a revision long at zero. */
export function longInactiveStatus(nowMs: number) {
  const hourAgo = new Date(nowMs - HOUR_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    conditions: [
      {
        type: 'Active',
        status: 'False',
        reason: 'NoTraffic',
        message: 'The target is not receiving traffic.',
        lastTransitionTime: hourAgo,
      },
      { type: 'ScaleTargetInitialized', status: 'True', lastTransitionTime: hourAgo },
    ],
  };
}
