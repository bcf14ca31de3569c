// The ClusterDomainClaim a DomainMapping creates for its domain when config-network
// autocreate-cluster-domain-claims is true (upstream pkg/reconciler/domainmapping/resources/domainclaim.go).
// It has no owner reference: a cluster-scoped object cannot be owned by a namespaced one, so the
// DomainMapping's finalizer deletes it instead.
import {
  CLUSTER_DOMAIN_CLAIM_API_VERSION,
  type ClusterDomainClaim,
  type DomainMappingObject,
} from '../../../lib/apis/domainMapping.ts';

export function makeDomainClaim(dm: DomainMappingObject): ClusterDomainClaim {
  return {
    apiVersion: CLUSTER_DOMAIN_CLAIM_API_VERSION,
    kind: 'ClusterDomainClaim',
    metadata: { name: dm.metadata?.name ?? '' },
    spec: { namespace: dm.metadata?.namespace ?? '' },
  };
}
