// Types of serving.knative.dev/v1, one per kind: the spec from @kubernetes-models/knative, the
// status as our condition sets write it (status.ts). And the names Knative gives to its labels and
// annotations (upstream pkg/apis/serving/register.go).
import type { IConfiguration } from '@kubernetes-models/knative/serving.knative.dev/v1/Configuration';
import type { IRevision } from '@kubernetes-models/knative/serving.knative.dev/v1/Revision';
import type { IRoute } from '@kubernetes-models/knative/serving.knative.dev/v1/Route';
import type { IService } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import type { ConfigurationStatus, RevisionStatus, RouteStatus, ServiceStatus, WithStatus } from './status.ts';

export type Service = WithStatus<IService, ServiceStatus>;
export type Configuration = WithStatus<IConfiguration, ConfigurationStatus>;
export type Revision = WithStatus<IRevision, RevisionStatus>;
export type Route = WithStatus<IRoute, RouteStatus>;

export type RevisionTemplate = NonNullable<NonNullable<IService['spec']>['template']>;
export type RevisionSpec = NonNullable<RevisionTemplate['spec']>;
export type Container = RevisionSpec['containers'][number];
export type Probe = NonNullable<Container['readinessProbe']>;
export type TrafficTarget = NonNullable<NonNullable<IService['spec']>['traffic']>[number];

export const Labels = {
  service: 'serving.knative.dev/service',
  serviceUID: 'serving.knative.dev/serviceUID',
  configuration: 'serving.knative.dev/configuration',
  configurationUID: 'serving.knative.dev/configurationUID',
  configurationGeneration: 'serving.knative.dev/configurationGeneration',
  revision: 'serving.knative.dev/revision',
  revisionUID: 'serving.knative.dev/revisionUID',
  route: 'serving.knative.dev/route',
  routingState: 'serving.knative.dev/routingState',
  visibility: 'networking.knative.dev/visibility',
  /** Private or Public on a ServerlessService's Services (Reserved on a reserved instance's). */
  serviceType: 'networking.internal.knative.dev/serviceType',
} as const;

export const Annotations = {
  creator: 'serving.knative.dev/creator',
  lastModifier: 'serving.knative.dev/lastModifier',
  routes: 'serving.knative.dev/routes',
  routingStateModified: 'serving.knative.dev/routingStateModified',
  rolloutDuration: 'serving.knative.dev/rollout-duration',
  rolloutDurationLegacy: 'serving.knative.dev/rolloutDuration',
  progressDeadline: 'serving.knative.dev/progress-deadline',
  noGC: 'serving.knative.dev/no-gc',
  lastAppliedConfiguration: 'kubectl.kubernetes.io/last-applied-configuration',
} as const;

/** Paths no volume may be mounted at (upstream pkg/apis/serving/k8s_validation.go). */
export const RESERVED_MOUNT_PATHS: readonly string[] = ['/', '/dev', '/dev/log'];

/** Port of the user container when the revision names none (the PORT env var). */
export const DEFAULT_USER_PORT = 8080;
