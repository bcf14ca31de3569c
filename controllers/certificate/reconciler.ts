// pilotlight's certificate class: a Certificate of this class gets a certificate for its
// spec.dnsNames, issued from the CA kept in the system namespace and written to the Secret
// spec.secretName, renewed before it expires and re-issued when the names change or the Secret
// is lost or altered. Upstream's classes (e.g. net-certmanager) play the same part with an
// external issuer.
import type { V1Secret } from '@kubernetes/client-node';
import { CertificateConditions } from '../../lib/apis/conditions.ts';
import { certificateClass, type Certificate } from '../../lib/apis/networking.ts';
import type { ReconcileResult } from '../../lib/controller.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { readTlsSecret } from '../../lib/kube/tlsSecret.ts';
import { inspectLeaf, type KeyPairPem } from '../../lib/pki.ts';
import { ownedChild, reconcileChild } from '../../lib/reconciler/child.ts';
import { sameJson } from '../../lib/reconciler/crud.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import type { AuthoritySource } from './authority.ts';
import { leafProblem, renewalTime } from './renewal.ts';
import { makeSecret } from './resources/secret.ts';

/** As long as cert-manager's and ACME's certificates live; renewed 30 days before the end. */
const LEAF_VALID_DAYS = 90;
/** X.509 caps a common name at 64 characters; the names that matter are in the SAN. */
const MAX_COMMON_NAME = 64;
/**
 * The longest we wait for a renewal in one go: Node's timers cannot count to 60 days (they fire at
 * once beyond 2^31 ms), and a resync reconciles every Certificate long before anyway.
 */
const MAX_REQUEUE_MS = 24 * 60 * 60 * 1000;

export interface CertificateReconcilerDeps {
  client: KubeRest;
  secrets: Lister<V1Secret>;
  authority: AuthoritySource;
}

/** Whether a Certificate is ours: its annotation names our class, or names none and ours is the default. */
export function isOfClass(certificate: Certificate, ourClass: string, defaultClass: string): boolean {
  return (certificateClass(certificate) ?? defaultClass) === ourClass;
}

const commonName = (certificate: Certificate) =>
  [certificate.spec.domain, ...certificate.spec.dnsNames].find((n) => n && n.length <= MAX_COMMON_NAME) ??
  certificate.metadata?.name ??
  'certificate';

const formatTime = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function certificateReconciler(deps: CertificateReconcilerDeps) {
  return async function reconcileCertificate(
    certificate: Certificate,
    ctx: ReconcileContext,
  ): Promise<ReconcileResult | void> {
    const status = (certificate.status ??= {});
    const manager = CertificateConditions.manage(status, ctx.clock);
    manager.initialize();
    const namespace = certificate.metadata?.namespace ?? '';
    const existing = deps.secrets.get(`${namespace}/${certificate.spec.secretName}`);
    const ca = await deps.authority.get(ctx.log);

    const current = readTlsSecret(existing);
    const problem = existing
      ? leafProblem(current, { dnsNames: certificate.spec.dnsNames, caCertificate: ca.certificate }, ctx.clock.now())
      : undefined;
    let pair: KeyPairPem;
    if (existing && problem === undefined) {
      pair = { certificate: current.certificate ?? '', privateKey: current.privateKey ?? '' };
    } else {
      if (problem) ctx.log.info('re-issuing certificate', { secret: certificate.spec.secretName, because: problem });
      pair = await ca.issue({
        commonName: commonName(certificate),
        dnsNames: certificate.spec.dnsNames,
        usage: 'server',
        validDays: LEAF_VALID_DAYS,
      });
    }

    const result = await reconcileChild<V1Secret>({
      client: deps.client,
      kind: Kinds.secret,
      description: 'Secret',
      owner: certificate,
      existing,
      desired: () => makeSecret(certificate, pair, ca.certificate),
      metadata: 'merge',
      spec: {
        equal: (have, want) => sameJson(have.data, want.data),
        apply: (have, want) => ({ ...have, data: want.data }),
      },
      events: ctx.events,
      createdEvent: true,
      // Our informer sees only Secrets with our label: one someone else made must be read.
      onAlreadyExists: 'read',
    });
    if (!ownedChild(result, manager, CertificateConditions.happy, 'NotOwned')) return;
    const facts = inspectLeaf(pair, ca.certificate);
    status.notAfter = formatTime(facts.notAfter);
    manager.markTrue(CertificateConditions.happy);
    const untilRenewal = renewalTime(facts.notBefore, facts.notAfter) - ctx.clock.now();
    return { requeueAfterMs: Math.max(0, Math.min(untilRenewal, MAX_REQUEUE_MS)) };
  };
}
