// What a Route's Certificates mean for it (upstream route.go externalDomainTLS and
// clusterLocalDomainTLS, route_lifecycle.go's certificate marks): which hosts its KIngress serves
// over TLS, which of its URLs say https, and its CertificateProvisioned condition.
import { conditionOf } from '../../lib/apis/status.ts';
import { CertificateLabels, type Certificate, type IngressTLS } from '../../lib/apis/networking.ts';
import type { NetworkConfig } from '../../lib/config/network.ts';
import { makeIngressTls } from './resources/certificate.ts';

/** Upstream's keys for opting a Service or Route out of external-domain-tls, in its order of precedence. */
export const DISABLE_EXTERNAL_DOMAIN_TLS_ANNOTATIONS = [
  'networking.knative.dev/disableAutoTLS',
  'networking.knative.dev/disable-auto-tls',
  'networking.knative.dev/disable-external-domain-tls',
] as const;

export const CertificateReasons = {
  tlsNotEnabled: 'TLSNotEnabled',
  notReady: 'CertificateNotReady',
  provisionFailed: 'CertificateProvisionFailed',
  notOwned: 'CertificateNotOwned',
  httpDowngrade: 'HTTPDowngrade',
} as const;

export const TlsMessages = {
  externalNotEnabled: 'external-domain-tls is not enabled',
  clusterLocalNotEnabled: 'TLS is not enabled for cluster-local',
} as const;

/** Go's strconv.ParseBool, which upstream reads the opt-out annotation with. */
function goBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/**
 * external-domain-tls for this Route: on in config-network and not turned off by its annotation.
 * An annotation that is not a boolean leaves it on, as upstream (which logs a warning).
 */
export function externalDomainTlsEnabled(annotations: Record<string, string> | undefined, network: NetworkConfig) {
  if (!network.externalDomainTls) return false;
  const key = DISABLE_EXTERNAL_DOMAIN_TLS_ANNOTATIONS.find((k) => annotations?.[k] !== undefined);
  return key === undefined || goBool(annotations![key]!) !== true;
}

export type CertificateState = 'ready' | 'failed' | 'notReady';

/** Ready for its current generation, as upstream's IsReady; failed when Ready is False. */
export function certificateState(certificate: Certificate): CertificateState {
  const ready = conditionOf(certificate.status, 'Ready');
  const current = certificate.status?.observedGeneration === certificate.metadata?.generation;
  if (ready?.status === 'True' && current) return 'ready';
  return ready?.status === 'False' ? 'failed' : 'notReady';
}

/** A Certificate of the Route as reconciled: the object, or the name someone else's holds. */
export type CertificateOutcome =
  | { kind: 'external' | 'clusterLocal'; certificate: Certificate; hosts: readonly string[] }
  | { kind: 'notOwned'; name: string };

export interface CertificateCondition {
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface TlsPlan {
  /** The KIngress's spec.tls: the hosts of every ready Certificate. */
  tls: IngressTLS[];
  /** The scheme each host's URLs take; hosts absent keep theirs. */
  schemes: Map<string, 'http' | 'https'>;
  /** Whether the Route's cluster-local address is https. */
  httpsAddress: boolean;
  condition: CertificateCondition;
}

/** How bad a condition is, so the worst Certificate speaks for the Route. */
const severity = (c: CertificateCondition) =>
  c.status === 'False' ? 3 : c.status === 'Unknown' ? 2 : c.reason === CertificateReasons.httpDowngrade ? 1 : 0;

/**
 * The Route's TLS from its Certificates (an empty list when neither TLS setting applies).
 * `externalEnabled` says whether external-domain-tls applies to it; `httpProtocol` is
 * config-network's, under whose Enabled a host whose Certificate is not ready yet keeps http.
 */
export function planTls(
  outcomes: readonly CertificateOutcome[],
  options: { externalEnabled: boolean; httpProtocol: NetworkConfig['httpProtocol'] },
): TlsPlan {
  const plan: TlsPlan = { tls: [], schemes: new Map(), httpsAddress: false, condition: { status: 'True' } };
  const conditions: CertificateCondition[] = [];
  for (const outcome of outcomes) {
    if (outcome.kind === 'notOwned') {
      conditions.push({
        status: 'False',
        reason: CertificateReasons.notOwned,
        message: `There is an existing certificate ${outcome.name} that we don't own.`,
      });
      continue;
    }
    const { certificate, hosts } = outcome;
    const name = certificate.metadata?.name ?? '';
    const state = certificateState(certificate);
    const reason = conditionOf(certificate.status, 'Ready')?.reason ?? '';
    if (state === 'ready') {
      plan.tls.push(makeIngressTls(certificate, hosts));
      conditions.push({ status: 'True' });
      if (outcome.kind === 'clusterLocal') plan.httpsAddress = true;
    } else if (outcome.kind === 'external' && options.httpProtocol === 'Enabled') {
      conditions.push({
        status: 'True',
        reason: CertificateReasons.httpDowngrade,
        message: `Certificate ${name} is not ready downgrade HTTP.`,
      });
    } else if (state === 'failed') {
      conditions.push({
        status: 'False',
        reason: CertificateReasons.provisionFailed,
        message: `Certificate ${name} fails to be provisioned: ${reason}`,
      });
    } else {
      conditions.push({
        status: 'Unknown',
        reason: CertificateReasons.notReady,
        message: `Certificate ${name} is not ready: ${reason}`,
      });
    }
    // A cluster-local host turns https only once served so; an external one as soon as it has a
    // Certificate, unless plain HTTP stands in meanwhile.
    const downgraded = state !== 'ready' && options.httpProtocol === 'Enabled';
    const scheme =
      outcome.kind === 'clusterLocal' ? (state === 'ready' ? 'https' : undefined) : downgraded ? 'http' : 'https';
    if (scheme) for (const host of hosts) plan.schemes.set(host, scheme);
  }
  if (conditions.length > 0) plan.condition = conditions.reduce((a, b) => (severity(b) > severity(a) ? b : a));
  else
    plan.condition = {
      status: 'True',
      reason: CertificateReasons.tlsNotEnabled,
      message: options.externalEnabled ? TlsMessages.clusterLocalNotEnabled : TlsMessages.externalNotEnabled,
    };
  return plan;
}

/** `url` with the scheme its host takes in the plan. */
export function withScheme(url: string, schemes: ReadonlyMap<string, 'http' | 'https'>): string {
  const scheme = schemes.get(new URL(url).hostname);
  return scheme ? url.replace(/^[a-z][a-z0-9+.-]*:/, `${scheme}:`) : url;
}

/**
 * The namespace's wildcard Certificate (labelled with the Route's domain) whose names cover every
 * host, to be used instead of one per host (upstream findMatchingWildcardCert: a `*.<rest>` name
 * covers a host whose first label is followed by `<rest>`).
 */
export function matchingWildcardCertificate(
  hosts: readonly string[],
  certificates: readonly Certificate[],
  domain: string,
): Certificate | undefined {
  const parent = (name: string) => {
    const dot = name.indexOf('.');
    return dot < 0 ? undefined : name.slice(dot + 1);
  };
  return certificates.find((certificate) => {
    if (certificate.metadata?.labels?.[CertificateLabels.wildcardDomain] !== domain) return false;
    const covered = new Set(certificate.spec.dnsNames.map(parent).filter((p) => p !== undefined));
    return hosts.every((host) => {
      const rest = parent(host);
      return rest !== undefined && covered.has(rest);
    });
  });
}
