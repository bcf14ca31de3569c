// serving.knative.dev/v1beta1 DomainMapping and networking.internal.knative.dev/v1alpha1
// ClusterDomainClaim, from @kubernetes-models/knative, with the status shape our condition set
// writes (upstream pkg/apis/serving/v1beta1/domainmapping_*.go, knative.dev/networking domainclaim_*.go).
import type { IClusterDomainClaim } from '@kubernetes-models/knative/networking.internal.knative.dev/v1alpha1/ClusterDomainClaim';
import type { IDomainMapping } from '@kubernetes-models/knative/serving.knative.dev/v1beta1/DomainMapping';
import { canonicalHeaderName, HopHeaders } from '../hop.ts';
import type { Status } from './conditions.ts';
import type { WithStatus } from './status.ts';

export type DomainMapping = IDomainMapping;
export type DomainMappingSpec = NonNullable<IDomainMapping['spec']>;
export type KReference = DomainMappingSpec['ref'];

export interface DomainMappingStatus extends Status {
  url?: string;
  address?: { url?: string };
}

export type DomainMappingObject = WithStatus<DomainMapping, DomainMappingStatus>;
/** Typed like the serving objects (status.ts WithStatus) so it goes through the same informers; it has no status of its own. */
export type ClusterDomainClaim = WithStatus<IClusterDomainClaim, Status>;

export const CLUSTER_DOMAIN_CLAIM_API_VERSION = 'networking.internal.knative.dev/v1alpha1';

/** Labels on a DomainMapping's KIngress (upstream pkg/apis/serving/register.go). */
export const DomainMappingLabels = {
  uid: 'serving.knative.dev/domainMappingUID',
  namespace: 'serving.knative.dev/domainMappingNamespace',
} as const;

/** The header carrying the Host the client asked for, set on requests whose Host was rewritten (knative.dev/networking header.OriginalHostKey). */
export const ORIGINAL_HOST_HEADER = canonicalHeaderName(HopHeaders.originalHost);
