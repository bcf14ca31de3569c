// TLS termination for KIngress hosts, and the plain-HTTP redirect of `spec.httpOption: Redirected`.
//
// A KIngress lists, in `spec.tls`, host sets with the Secret (kubernetes.io/tls: tls.crt, tls.key)
// whose certificate they are served with. The TLS table maps each such host to a ready-made
// SecureContext that the TLS listener hands out by SNI. A host gets TLS only from the Ingress that
// serves it on the external listener (the routing table decides, with its conflict rule), so an
// Ingress cannot put its certificate on another's host. A context is built once per Secret content
// and carried over to the next table while the Secret is unchanged; a changed Secret gets a new one,
// which the next handshake reads (connections already open keep theirs). A Secret that is missing
// or does not load leaves its hosts without TLS, says why in `secrets`, and touches nothing else.
import { createSecureContext, type SecureContext } from 'node:tls';
import { normalizeHost, type Ingress, type RoutingTable } from './routing/index.ts';

/** A Secret's PEM data as the source read it (tls.crt and tls.key); either may be absent. */
export interface TlsSecretData {
  readonly certificate?: string;
  readonly privateKey?: string;
}

/** Keyed by `secretKey(namespace, name)`; only the Secrets the Ingresses reference need be here. */
export type TlsSecrets = ReadonlyMap<string, TlsSecretData>;

export const secretKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** `data` is what the state was made from: a Secret with the same data keeps its state. */
export type SecretState =
  | { readonly kind: 'loaded'; readonly data: TlsSecretData; readonly context: SecureContext }
  | { readonly kind: 'failed'; readonly data: TlsSecretData | undefined; readonly reason: string };

export interface TlsTable {
  /** Normalized host → the certificate its handshakes get. */
  readonly contexts: ReadonlyMap<string, SecureContext>;
  /** Every Secret an Ingress's `spec.tls` names: loaded, or why not. */
  readonly secrets: ReadonlyMap<string, SecretState>;
  /** Normalized ExternalIP hosts whose plain-HTTP requests get a 301 to https. */
  readonly redirects: ReadonlySet<string>;
}

export const EMPTY_TLS_TABLE: TlsTable = { contexts: new Map(), secrets: new Map(), redirects: new Set() };

export interface TlsTableOptions {
  /** The table being replaced, whose contexts are reused for unchanged Secrets. */
  readonly previous?: TlsTable;
  /** Builds a context from PEM text; throws when the text does not load. Default: node's createSecureContext. */
  readonly createContext?: (certificate: string, privateKey: string) => SecureContext;
}

const nodeContext = (cert: string, key: string): SecureContext => createSecureContext({ cert, key });

export function buildTlsTable(
  ingresses: readonly Ingress[],
  secrets: TlsSecrets,
  routing: RoutingTable,
  options: TlsTableOptions = {},
): TlsTable {
  const createContext = options.createContext ?? nodeContext;
  const states = new Map<string, SecretState>();
  const contexts = new Map<string, SecureContext>();
  const redirects = new Set<string>();
  const stateOf = (key: string): SecretState => {
    let state = states.get(key);
    if (state === undefined) {
      state = loadSecret(key, secrets.get(key), options.previous?.secrets.get(key), createContext);
      states.set(key, state);
    }
    return state;
  };
  for (const ingress of ingresses) {
    const namespace = ingress.metadata?.namespace ?? '';
    const name = ingress.metadata?.name ?? '';
    const servesExternally = (host: string) => {
      const owner = routing.external.get(host)?.ingress;
      return owner?.namespace === namespace && owner.name === name;
    };
    for (const tls of ingress.spec?.tls ?? []) {
      const state = stateOf(secretKey(tls.secretNamespace ?? namespace, tls.secretName ?? ''));
      if (state.kind !== 'loaded') continue;
      for (const raw of tls.hosts ?? []) {
        const host = normalizeHost(raw);
        if (servesExternally(host) && !contexts.has(host)) contexts.set(host, state.context);
      }
    }
    if (ingress.spec?.httpOption !== 'Redirected') continue;
    for (const rule of ingress.spec.rules ?? []) {
      if (rule.visibility === 'ClusterLocal') continue;
      for (const raw of rule.hosts ?? []) {
        const host = normalizeHost(raw);
        if (servesExternally(host)) redirects.add(host);
      }
    }
  }
  return { contexts, secrets: states, redirects };
}

function loadSecret(
  key: string,
  data: TlsSecretData | undefined,
  previous: SecretState | undefined,
  createContext: NonNullable<TlsTableOptions['createContext']>,
): SecretState {
  // Unchanged data keeps its state, context or reason: nothing is parsed twice.
  if (previous !== undefined && sameData(previous.data, data)) return previous;
  if (data === undefined)
    return { kind: 'failed', data, reason: `Secret ${key} not found (or not of type kubernetes.io/tls)` };
  const { certificate, privateKey } = data;
  if (!certificate) return { kind: 'failed', data, reason: `Secret ${key} has no tls.crt` };
  if (!privateKey) return { kind: 'failed', data, reason: `Secret ${key} has no tls.key` };
  try {
    return { kind: 'loaded', data, context: createContext(certificate, privateKey) };
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
