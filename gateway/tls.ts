// TLS termination for KIngress hosts, and the plain-HTTP redirect of `spec.httpOption: Redirected`.
//
// A KIngress lists, in `spec.tls`, host sets with the Secret (kubernetes.io/tls: tls.crt, tls.key)
// whose certificate they are served with. The TLS table maps each such host to a ready-made
// SecureContext that a TLS listener hands out by SNI: ExternalIP hosts on the external TLS
// listener, ClusterLocal hosts on the internal one (as Kourier's two TLS listeners). A host gets
// TLS only from the Ingress that serves it on that visibility (the routing table decides, with its
// conflict rule), so an Ingress cannot put its certificate on another's host. A context is built
// once per Secret content and carried over to the next table while the Secret is unchanged; a
// changed Secret gets a new one, which the next handshake reads (connections already open keep
// theirs). A Secret that is missing or does not load, or a certificate that does not name a host
// or is outside its validity, leaves those hosts without TLS, says why in `problems`, and touches
// nothing else. A default certificate (Kourier's certs-secret-name), when configured, serves the
// public hosts it names that no `spec.tls` entry gives one: a bought `*.example.com` for every Route.
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { normalizeHost, type Ingress, type RoutingTable, type Visibility } from './routing/index.ts';

/** A Secret's PEM data as the source read it (tls.crt and tls.key); either may be absent. */
export interface TlsSecretData {
  readonly certificate?: string;
  readonly privateKey?: string;
}

/** Keyed by `secretKey(namespace, name)`; only the Secrets the Ingresses reference need be here. */
export type TlsSecrets = ReadonlyMap<string, TlsSecretData>;

export const secretKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** What the gateway checks of a Secret's (leaf) certificate before serving a host with it. */
export interface CertificateFacts {
  /** Whether the certificate names the host (a DNS SAN, wildcards as RFC 6125). */
  covers(host: string): boolean;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A Secret made ready for handshakes. */
export interface LoadedCertificate {
  readonly context: SecureContext;
  readonly facts: CertificateFacts;
}

/** `data` is what the state was made from: a Secret with the same data keeps its state. */
export type SecretState =
  | ({ readonly kind: 'loaded'; readonly data: TlsSecretData } & LoadedCertificate)
  | { readonly kind: 'failed'; readonly data: TlsSecretData | undefined; readonly reason: string };

/** The TLS listeners: the external one serves ExternalIP hosts, the internal one ClusterLocal hosts. */
export type TlsListener = 'external' | 'internal';

export interface TlsTable {
  /** Per TLS listener, normalized host → the certificate its handshakes get. */
  readonly contexts: Readonly<Record<TlsListener, ReadonlyMap<string, SecureContext>>>;
  /** Every Secret an Ingress's `spec.tls` names: loaded, or why not. */
  readonly secrets: ReadonlyMap<string, SecretState>;
  /**
   * Why a host of a `spec.tls` entry gets no TLS though its Secret loaded (the certificate does
   * not name it, or is not valid now), keyed by `hostKey(secret, host)`.
   */
  readonly problems: ReadonlyMap<string, string>;
  /** Normalized ExternalIP hosts whose plain-HTTP requests get a 301 to https. */
  readonly redirects: ReadonlySet<string>;
  /** The default certificate, when one is configured and its Secret loaded. */
  readonly fallback?: LoadedCertificate;
}

export const hostKey = (secret: string, host: string): string => `${secret} ${normalizeHost(host)}`;

export const EMPTY_TLS_TABLE: TlsTable = {
  contexts: { external: new Map(), internal: new Map() },
  secrets: new Map(),
  problems: new Map(),
  redirects: new Set(),
};

export interface TlsTableOptions {
  /** The table being replaced, whose contexts are reused for unchanged Secrets. */
  readonly previous?: TlsTable;
  /** Builds a context from PEM text and reads its leaf; throws when the text does not load. Default: node's. */
  readonly load?: (certificate: string, privateKey: string) => LoadedCertificate;
  /** Milliseconds since the epoch, against which validity is checked. Default: now. */
  readonly now?: number;
  /** `secretKey` of the default certificate for public hosts without a `spec.tls` entry. */
  readonly defaultCertificate?: string;
}

/** node's context, and the facts of the first certificate of the chain (the leaf). */
export function loadCertificate(cert: string, key: string): LoadedCertificate {
  const context = createSecureContext({ cert, key });
  const leaf = new X509Certificate(cert);
  return {
    context,
    facts: {
      covers: (host) => leaf.checkHost(host) !== undefined,
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
    },
  };
}

/** Why `facts` cannot serve `host` at `now` (a phrase about the certificate), or undefined when it can. */
export function certificateProblem(facts: CertificateFacts, host: string, now: number): string | undefined {
  if (!facts.covers(host)) return 'does not name it';
  if (now > facts.notAfter.getTime()) return `expired at ${facts.notAfter.toISOString()}`;
  if (now < facts.notBefore.getTime()) return `is not valid before ${facts.notBefore.toISOString()}`;
  return undefined;
}

export function buildTlsTable(
  ingresses: readonly Ingress[],
  secrets: TlsSecrets,
  routing: RoutingTable,
  options: TlsTableOptions = {},
): TlsTable {
  const load = options.load ?? loadCertificate;
  const now = options.now ?? Date.now();
  const states = new Map<string, SecretState>();
  const contexts = { external: new Map<string, SecureContext>(), internal: new Map<string, SecureContext>() };
  const problems = new Map<string, string>();
  const redirects = new Set<string>();
  const stateOf = (key: string): SecretState => {
    let state = states.get(key);
    if (state === undefined) {
      state = loadSecret(key, secrets.get(key), options.previous?.secrets.get(key), load);
      states.set(key, state);
    }
    return state;
  };
  for (const ingress of ingresses) {
    const namespace = ingress.metadata?.namespace ?? '';
    const name = ingress.metadata?.name ?? '';
    const owns = (host: string, visibility: Visibility) => {
      const hosts = visibility === 'ExternalIP' ? routing.external : routing.internal;
      const vhost = hosts.get(host);
      return vhost?.visibility === visibility && vhost.ingress.namespace === namespace && vhost.ingress.name === name;
    };
    // The listener that serves a host of this Ingress over TLS, if it serves it at all.
    const listenerFor = (host: string): TlsListener | undefined =>
      owns(host, 'ExternalIP') ? 'external' : owns(host, 'ClusterLocal') ? 'internal' : undefined;
    for (const tls of ingress.spec?.tls ?? []) {
      const key = secretKey(tls.secretNamespace ?? namespace, tls.secretName ?? '');
      const state = stateOf(key);
      if (state.kind !== 'loaded') continue;
      for (const raw of tls.hosts ?? []) {
        const host = normalizeHost(raw);
        const listener = listenerFor(host);
        if (listener === undefined || contexts[listener].has(host)) continue;
        const problem = certificateProblem(state.facts, host, now);
        if (problem === undefined) contexts[listener].set(host, state.context);
        else problems.set(hostKey(key, host), `host ${host}: the certificate of Secret ${key} ${problem}`);
      }
    }
    if (ingress.spec?.httpOption !== 'Redirected') continue;
    for (const rule of ingress.spec.rules ?? []) {
      if (rule.visibility === 'ClusterLocal') continue;
      for (const raw of rule.hosts ?? []) {
        const host = normalizeHost(raw);
        if (owns(host, 'ExternalIP')) redirects.add(host);
      }
    }
  }
  const fallback = options.defaultCertificate === undefined ? undefined : stateOf(options.defaultCertificate);
  return {
    contexts,
    secrets: states,
    problems,
    redirects,
    ...(fallback?.kind === 'loaded' ? { fallback: { context: fallback.context, facts: fallback.facts } } : {}),
  };
}

/**
 * The certificate a handshake for `serverName` gets on a listener: its host's own, else, on the
 * external listener, the default certificate when that names the host and is valid at `now`.
 */
export function contextFor(
  tls: TlsTable,
  listener: TlsListener,
  serverName: string,
  now: number = Date.now(),
): SecureContext | undefined {
  const host = normalizeHost(serverName);
  const own = tls.contexts[listener].get(host);
  if (own !== undefined || listener !== 'external' || tls.fallback === undefined) return own;
  return certificateProblem(tls.fallback.facts, host, now) === undefined ? tls.fallback.context : undefined;
}

function loadSecret(
  key: string,
  data: TlsSecretData | undefined,
  previous: SecretState | undefined,
  load: NonNullable<TlsTableOptions['load']>,
): SecretState {
  // Unchanged data keeps its state, context or reason: nothing is parsed twice.
  if (previous !== undefined && sameData(previous.data, data)) return previous;
  if (data === undefined)
    return { kind: 'failed', data, reason: `Secret ${key} not found (or not of type kubernetes.io/tls)` };
  const { certificate, privateKey } = data;
  if (!certificate) return { kind: 'failed', data, reason: `Secret ${key} has no tls.crt` };
  if (!privateKey) return { kind: 'failed', data, reason: `Secret ${key} has no tls.key` };
  try {
    return { kind: 'loaded', data, ...load(certificate, privateKey) };
  } catch (error) {
    return { kind: 'failed', data, reason: `Secret ${key} does not load: ${(error as Error).message}` };
  }
}

const sameData = (a: TlsSecretData | undefined, b: TlsSecretData | undefined): boolean =>
  a === b ||
  (a?.certificate === b?.certificate && a?.privateKey === b?.privateKey && a !== undefined && b !== undefined);

/**
 * Where a plain-HTTP request on the external listener is sent instead, or undefined to serve it:
 * `https://<host without port><path>` for the hosts of a Redirected Ingress, as Knative's ingresses
 * answer (301, the port dropped so the client uses https's own).
 */
export function httpsRedirectLocation(tls: TlsTable, host: string | undefined, url: string): string | undefined {
  if (host === undefined || tls.redirects.size === 0) return undefined;
  const name = normalizeHost(host);
  return tls.redirects.has(name) ? `https://${name}${url.startsWith('/') ? url : `/${url}`}` : undefined;
}
