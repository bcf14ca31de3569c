// DomainMapping → a ClusterDomainClaim for its domain and a KIngress that sends the domain to the
// referenced Service or Route (upstream pkg/reconciler/domainmapping/reconciler.go), served over
// TLS with a user's own `spec.tls` Secret, or under external-domain-tls with a Knative Certificate
// of the mapping's domain.
import { DomainMappingConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import type { ClusterDomainClaim, DomainMappingObject } from '../../lib/apis/domainMapping.ts';
import { conditionOf } from '../../lib/apis/status.ts';
import type { Service, Route } from '../../lib/apis/serving.ts';
import { CLUSTER_DOMAIN } from '../../lib/config/domain.ts';
import type { NetworkConfig } from '../../lib/config/network.ts';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { ownedChild, reconcileChild } from '../../lib/reconciler/child.ts';
import { createObject } from '../../lib/reconciler/crud.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds, objectPath } from '../../lib/reconciler/kinds.ts';
import {
  INGRESS_CLASS_ANNOTATION,
  type Certificate,
  type Ingress,
  type IngressTLS,
} from '../../lib/apis/networking.ts';
import { reconcileCertificateChild } from '../route/certificates.ts';
import { annotatedHttpOption } from '../route/resources/ingress.ts';
import { certificateState, externalDomainTlsEnabled, TlsMessages } from '../route/tls.ts';
import { makeDomainMappingCertificate } from './resources/certificate.ts';
import { makeDomainClaim } from './resources/domainClaim.ts';
import { makeDomainMappingIngress } from './resources/ingress.ts';
import { resolveReference, type Addressables } from './target.ts';

export const DOMAIN_MAPPING_FINALIZER = 'domainmappings.serving.knative.dev';

export interface DomainMappingReconcilerDeps {
  client: KubeRest;
  domainClaims: Lister<ClusterDomainClaim>;
  ingresses: Lister<Ingress>;
  services: Lister<Service>;
  routes: Lister<Route>;
  certificates: Lister<Certificate>;
  config(): Readonly<{ network: NetworkConfig }>;
}

/** Knative's reasons and messages (upstream v1beta1/domainmapping_lifecycle.go). */
export const DomainMappingReasons = {
  domainAlreadyClaimed: 'DomainAlreadyClaimed',
  resolveFailed: 'ResolveFailed',
  ingressNotConfigured: 'IngressNotConfigured',
  notOwned: 'NotOwned',
  tlsNotEnabled: 'TLSNotEnabled',
  certificateExternallyProvided: 'CertificateExternallyProvided',
  certificateNotReady: 'CertificateNotReady',
  certificateNotOwned: 'CertificateNotOwned',
  httpDowngrade: 'HTTPDowngrade',
} as const;

const markIngressNotConfigured = (manager: ConditionManager) =>
  manager.markUnknown(
    'IngressReady',
    DomainMappingReasons.ingressNotConfigured,
    'Ingress has not yet been reconciled.',
  );

const markDomainClaimNotOwned = (manager: ConditionManager) =>
  manager.markFalse(
    'DomainClaimed',
    DomainMappingReasons.domainAlreadyClaimed,
    'The domain name is already in use by another DomainMapping',
  );

function propagateIngressStatus(manager: ConditionManager, ingress: Ingress): void {
  const ready = conditionOf(ingress.status, 'Ready');
  if (ingress.status?.observedGeneration !== ingress.metadata?.generation || !ready) markIngressNotConfigured(manager);
  else if (ready.status === 'True') manager.markTrue('IngressReady');
  else if (ready.status === 'False') manager.markFalse('IngressReady', ready.reason ?? '', ready.message ?? '');
  else manager.markUnknown('IngressReady', ready.reason ?? '', ready.message ?? '');
}

export function domainMappingReconciler(deps: DomainMappingReconcilerDeps) {
  const addressables: Addressables = {
    addressOf(kind, namespace, name) {
      const object = (kind === 'Service' ? deps.services : deps.routes).get(`${namespace}/${name}`);
      return object ? (object.status?.address?.url ?? '') : undefined;
    },
  };

  /** Whether the DomainMapping's namespace holds the claim on its name, creating the claim when allowed. */
  async function claimDomain(
    dm: DomainMappingObject,
    manager: ConditionManager,
    network: NetworkConfig,
  ): Promise<boolean> {
    const name = dm.metadata?.name ?? '';
    const claim = deps.domainClaims.get(name);
    if (claim) {
      if (claim.spec?.namespace !== dm.metadata?.namespace) {
        markDomainClaimNotOwned(manager);
        return false;
      }
    } else {
      if (!network.autocreateClusterDomainClaims) {
        // Upstream's reason and message for this case too; the cluster admin may still create the claim.
        markDomainClaimNotOwned(manager);
        return false;
      }
      try {
        await createObject(deps.client, Kinds.clusterDomainClaim, makeDomainClaim(dm));
      } catch (error) {
        // A claim our informer has not seen yet, whoever holds it: its add event brings us back
        // to judge it, so this is not yet a reason to say the domain is taken.
        if (isAlreadyExists(error)) return false;
        throw error;
      }
    }
    manager.markTrue('DomainClaimed');
    return true;
  }

  /** The mapping's KIngress, or undefined with IngressReady saying why there is none to follow. */
  async function reconcileIngress(
    dm: DomainMappingObject,
    desired: Ingress,
    manager: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<Ingress | undefined> {
    const result = await reconcileChild({
      client: deps.client,
      kind: Kinds.ingress,
      description: 'Ingress',
      owner: dm,
      existing: deps.ingresses.get(`${desired.metadata?.namespace}/${desired.metadata?.name}`),
      desired: () => desired,
      metadata: 'dictate',
      events: ctx.events,
      createdEvent: true,
      onAlreadyExists: 'wait',
    });
    if (result.state === 'pending') markIngressNotConfigured(manager);
    // As the Route does: an Ingress of that name that is not ours is neither taken over nor followed.
    return ownedChild(result, manager, 'IngressReady', DomainMappingReasons.notOwned);
  }

  /**
   * The mapping's Certificate (upstream's tls()): served once Ready; until then plain HTTP under
   * http-protocol Enabled (HTTPDowngrade), else CertificateNotReady. Unlike a Route's, a failed
   * Certificate counts as not ready, as upstream has it.
   */
  async function reconcileCertificate(
    dm: DomainMappingObject,
    manager: ConditionManager,
    network: NetworkConfig,
    ctx: ReconcileContext,
  ): Promise<{ tls?: IngressTLS; scheme: 'http' | 'https' }> {
    const desired = makeDomainMappingCertificate(dm, network.certificateClass);
    const name = desired.metadata?.name ?? '';
    const result = await reconcileCertificateChild(deps, dm, desired, ctx);
    if (result.state === 'notOwned') {
      const message = `There is an existing certificate ${name} that we don't own.`;
      manager.markFalse('CertificateProvisioned', DomainMappingReasons.certificateNotOwned, message);
      throw new Error(`domain mapping "${dm.metadata?.name}": ${message}`);
    }
    const certificate = result.state === 'pending' ? desired : result.child;
    if (certificateState(certificate) === 'ready') {
      manager.markTrue('CertificateProvisioned');
      const hosts = desired.spec.dnsNames;
      return {
        tls: { hosts, secretName: certificate.spec.secretName, secretNamespace: dm.metadata?.namespace ?? '' },
        scheme: 'https',
      };
    }
    if (network.httpProtocol === 'Enabled') {
      manager.markTrue(
        'CertificateProvisioned',
        DomainMappingReasons.httpDowngrade,
        `Certificate ${name} is not ready downgrade HTTP.`,
      );
      return { scheme: 'http' };
    }
    manager.markUnknown(
      'CertificateProvisioned',
      DomainMappingReasons.certificateNotReady,
      `Certificate ${name} is not ready.`,
    );
    return { scheme: 'https' };
  }

  async function reconcile(dm: DomainMappingObject, ctx: ReconcileContext): Promise<void> {
    const status = (dm.status ??= {});
    const manager = DomainMappingConditions.manage(status, ctx.clock);
    manager.initialize();
    if (status.observedGeneration !== dm.metadata?.generation) markIngressNotConfigured(manager);
    const { network } = deps.config();
    const name = dm.metadata?.name ?? '';
    const namespace = dm.metadata?.namespace ?? '';

    const tls: IngressTLS[] = [];
    let scheme = network.defaultExternalScheme;
    if (dm.spec?.tls) {
      tls.push({ hosts: [name], secretName: dm.spec.tls.secretName, secretNamespace: namespace });
      scheme = 'https';
      manager.markTrue(
        'CertificateProvisioned',
        DomainMappingReasons.certificateExternallyProvided,
        'TLS certificate was provided externally',
      );
    } else if (!externalDomainTlsEnabled(dm.metadata?.annotations, network)) {
      manager.markTrue('CertificateProvisioned', DomainMappingReasons.tlsNotEnabled, TlsMessages.externalNotEnabled);
    }
    status.url = `${scheme}://${name}`;
    status.address = { url: status.url };

    if (!(await claimDomain(dm, manager, network))) return;
    if (!dm.spec?.tls && externalDomainTlsEnabled(dm.metadata?.annotations, network)) {
      const served = await reconcileCertificate(dm, manager, network, ctx);
      if (served.tls) tls.push(served.tls);
      status.url = `${served.scheme}://${name}`;
      status.address = { url: status.url };
    }

    const resolved = resolveReference(dm.spec!.ref, namespace, addressables, CLUSTER_DOMAIN);
    if (!resolved.ok) {
      manager.markFalse('ReferenceResolved', DomainMappingReasons.resolveFailed, resolved.message);
      return;
    }
    manager.markTrue('ReferenceResolved');

    const ingressClass =
      dm.metadata?.annotations?.[INGRESS_CLASS_ANNOTATION] ||
      dm.metadata?.annotations?.['networking.knative.dev/ingressClass'] ||
      network.ingressClass;
    const desired = makeDomainMappingIngress(dm, {
      target: resolved.target,
      ingressClass,
      httpOption: annotatedHttpOption(dm.metadata?.annotations, network),
      tls,
    });
    const ingress = await reconcileIngress(dm, desired, manager, ctx);
    if (ingress) propagateIngressStatus(manager, ingress);
  }

  /** On deletion, frees the domain: the claim goes if autocreated claims are on and it is this namespace's (upstream FinalizeKind). */
  async function finalize(dm: DomainMappingObject): Promise<void> {
    if (!deps.config().network.autocreateClusterDomainClaims) return;
    const claim = deps.domainClaims.get(dm.metadata?.name ?? '');
    if (!claim || claim.spec?.namespace !== dm.metadata?.namespace) return;
    try {
      await deps.client.request('DELETE', objectPath(Kinds.clusterDomainClaim, claim));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  return { reconcile, finalize };
}
