// When an issued certificate is renewed, and whether the one in a Secret still serves the
// Certificate: the pure decisions of pilotlight's certificate class.
import { inspectLeaf, type KeyPairPem } from '../../lib/pki.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Upstream renews a long-lived certificate 30 days before it expires... */
const RENEW_BEFORE_MS = 30 * DAY_MS;
/** ...and a short-lived one with a third of its lifetime left, as cert-manager does by default. */
const RENEW_BEFORE_FRACTION = 1 / 3;

/** The moment (ms since the epoch) a certificate valid over [notBefore, notAfter] should be replaced. */
export function renewalTime(notBefore: Date, notAfter: Date): number {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return notAfter.getTime() - Math.min(RENEW_BEFORE_MS, lifetime * RENEW_BEFORE_FRACTION);
}

export interface WantedLeaf {
  dnsNames: readonly string[];
  /** The CA the certificate must be issued by (PEM). */
  caCertificate: string;
}

const sameNames = (have: readonly string[], want: readonly string[]) => {
  const normalize = (names: readonly string[]) => [...new Set(names.map((n) => n.toLowerCase()))].sort().join(',');
  return normalize(have) === normalize(want);
};

/**
 * Why the pair cannot keep serving (a sentence for the log), or undefined when it can: it parses,
 * its key is its own, it comes from the CA, covers exactly the wanted names and is not due for renewal.
 */
export function leafProblem(pair: Partial<KeyPairPem>, wanted: WantedLeaf, nowMs: number): string | undefined {
  if (!pair.certificate) return 'there is no tls.crt';
  if (!pair.privateKey) return 'there is no tls.key';
  let facts: ReturnType<typeof inspectLeaf>;
  try {
    facts = inspectLeaf({ certificate: pair.certificate, privateKey: pair.privateKey }, wanted.caCertificate);
  } catch (error) {
    return `tls.crt or tls.key does not parse (${error instanceof Error ? error.message : String(error)})`;
  }
  if (!facts.keyMatches) return 'tls.key is not the key of tls.crt';
  if (!facts.signedByCa) return 'tls.crt was not issued by the current CA';
  if (!sameNames(facts.dnsNames, wanted.dnsNames))
    return `tls.crt covers ${facts.dnsNames.join(', ') || 'no names'}, not ${wanted.dnsNames.join(', ')}`;
  const renewAt = renewalTime(facts.notBefore, facts.notAfter);
  if (nowMs >= renewAt) return `tls.crt is due for renewal since ${new Date(renewAt).toISOString()}`;
  return undefined;
}
