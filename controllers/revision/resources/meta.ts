// Labels and annotations a revision passes on to its Deployment, pods and PodAutoscaler.
import { Labels, type Revision } from '../../../lib/apis/serving.ts';
import { AUTOSCALING_GROUP } from '../../../lib/config/autoscalingAnnotations.ts';
import { ReservedInstanceAnnotations } from '../../../lib/config/reservedInstance.ts';

const SYSTEM_ANNOTATIONS = new Set([
  'serving.knative.dev/creator',
  'serving.knative.dev/lastModifier',
  'serving.knative.dev/routes',
  'serving.knative.dev/routingStateModified',
]);

export function revisionLabels(rev: Revision): Record<string, string> {
  const name = rev.metadata?.name ?? '';
  const labels: Record<string, string> = { ...rev.metadata?.labels };
  delete labels[Labels.routingState];
  labels[Labels.revision] = name;
  labels[Labels.revisionUID] = rev.metadata?.uid ?? '';
  labels.app ??= name;
  return labels;
}

/** The Deployment selects on the revision's UID alone, so a re-created revision never adopts old pods. */
export function revisionSelector(rev: Revision): Record<string, string> {
  return { [Labels.revisionUID]: rev.metadata?.uid ?? '' };
}

/** Annotations for the Deployment and pods: autoscaling, reserved-instance and bookkeeping ones stay on the revision. */
export function podAnnotations(rev: Revision): Record<string, string> {
  return Object.fromEntries(
    Object.entries(rev.metadata?.annotations ?? {}).filter(
      ([key]) =>
        !key.startsWith(`${AUTOSCALING_GROUP}/`) &&
        !key.startsWith(ReservedInstanceAnnotations.mode) &&
        !SYSTEM_ANNOTATIONS.has(key),
    ),
  );
}

/** The PodAutoscaler reads the autoscaling annotations, so it gets them all. */
export function podAutoscalerAnnotations(rev: Revision): Record<string, string> {
  return Object.fromEntries(
    Object.entries(rev.metadata?.annotations ?? {}).filter(([key]) => !SYSTEM_ANNOTATIONS.has(key)),
  );
}
