// cert-manager's certificate class (`cert-manager.certificate.networking.knative.dev`, as
// net-certmanager): a Knative Certificate of this class becomes a cert-manager Certificate, and
// its Ready and notAfter follow the cert-manager Certificate's. cert-manager issues and renews;
// pilotlight never touches the Secret. ACME HTTP-01 challenges are not routed: use an issuer
// that does not need them (DNS-01, a CA, self-signed).
import { CertificateConditions } from '../../lib/apis/conditions.ts';
import type { Certificate } from '../../lib/apis/networking.ts';
import type { CertManagerConfig } from '../../lib/config/certManager.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { reconcileChild } from '../../lib/reconciler/child.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import { makeCertManagerCertificate, type CertManagerCertificate } from './resources/certificate.ts';

/** cert-manager's Ready False reasons that mean "not yet" rather than "failed" (net-certmanager's list). */
const NOT_READY_REASONS = new Set(['InProgress', 'Pending', 'TemporaryCertificate']);

export interface CertManagerReconcilerDeps {
  client: KubeRest;
  certManagerCertificates: Lister<CertManagerCertificate>;
  config(): CertManagerConfig;
}

export function certManagerReconciler(deps: CertManagerReconcilerDeps) {
  return async function reconcileCertificate(certificate: Certificate, ctx: ReconcileContext): Promise<void> {
    const status = (certificate.status ??= {});
    const manager = CertificateConditions.manage(status, ctx.clock);
    manager.initialize();
    const ready = CertificateConditions.happy;
    const desired = makeCertManagerCertificate(certificate, deps.config());
    if ('refused' in desired) {
      manager.markFalse(ready, desired.refused.reason, desired.refused.message);
      return;
    }
    const name = certificate.metadata?.name ?? '';
    let result: Awaited<ReturnType<typeof reconcileChild<CertManagerCertificate>>>;
    try {
      result = await reconcileChild<CertManagerCertificate>({
        client: deps.client,
        kind: Kinds.certManagerCertificate,
        description: 'Cert-Manager Certificate',
        owner: certificate,
        existing: deps.certManagerCertificates.get(`${certificate.metadata?.namespace}/${name}`),
        desired: () => desired.certificate,
        // Upstream compares and writes only the spec; the labels and annotations are set at creation.
        metadata: 'leave',
        events: ctx.events,
        createdEvent: true,
        onAlreadyExists: 'read',
      });
    } catch (error) {
      manager.markUnknown(ready, 'ReconcileFailed', 'Cert-Manager certificate has not yet been reconciled.');
      throw error;
    }
    if (result.state === 'notOwned') {
      manager.markFalse(ready, 'NotOwned', `There is an existing CertManagerCertificate "${name}" that we do not own.`);
      return;
    }
    if (result.state === 'pending') {
      manager.markUnknown(ready, 'ReconcileFailed', 'Cert-Manager certificate has not yet been reconciled.');
      return;
    }
    const cmStatus = result.child.status;
    if (cmStatus?.notAfter) status.notAfter = cmStatus.notAfter;
    else delete status.notAfter;
    const cmReady = cmStatus?.conditions?.find((c) => c.type === 'Ready');
    if (!cmReady)
      manager.markUnknown(
        ready,
        'NoCertManagerCertCondition',
        'The ready condition of Cert Manager Certifiate does not exist.',
      );
    else if (cmReady.status === 'True') manager.markTrue(ready);
    else if (cmReady.status === 'False' && !NOT_READY_REASONS.has(cmReady.reason ?? ''))
      manager.markFalse(ready, cmReady.reason ?? '', cmReady.message ?? '');
    else manager.markUnknown(ready, cmReady.reason ?? '', cmReady.message ?? '');
  };
}
