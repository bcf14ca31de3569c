// Which KIngress path a request belongs to: host on the listener it arrived on, then the first
// path (table order: longest prefix first) whose prefix and exact header conditions hold.
//
// Tag routing needs nothing special here. The Route reconciler expresses it in the KIngress: tag
// hosts get rules of their own, and when config-features `tag-header-based-routing` is Enabled the
// default host's rule also gets, ahead of its default path, one path per tag that requires
// `Knative-Serving-Tag: <tag>`. Matching those header conditions is what honours the flag, and a
// KIngress generated with the flag Disabled has no such paths, so the header is then ignored.
import { NO_MATCHING_PATH, UNKNOWN_HOST, type RejectDecision } from './decision.ts';
import type { PathRoute, RoutingTable, VirtualHost } from './table.ts';

/** `external`: the public listener, ExternalIP hosts only; `internal`: the in-cluster listener, all hosts. */
export type Listener = 'external' | 'internal';

/** Request headers as node:http delivers them: lower-case names. */
export type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface RequestHead {
  readonly listener: Listener;
  /** The Host header (or HTTP/2 :authority) as received. */
  readonly host: string | undefined;
  /** The request target in origin form: path, optionally followed by `?query`. */
  readonly path: string;
  readonly headers: IncomingHeaders;
}

const UPPER_A = 65;
const UPPER_Z = 90;
const OPEN_BRACKET = 91;
const DOT = 46;

/**
 * Lower-case, without port or trailing dot; `[v6]:port` keeps its brackets. Allocates only when
 * something has to change, which for the usual `name.ns.example.com` Host header is never.
 */
export function normalizeHost(raw: string): string {
  let end = raw.length;
  if (raw.charCodeAt(0) === OPEN_BRACKET) {
    const close = raw.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = raw.indexOf(':');
    if (colon !== -1) end = colon;
  }
  if (end > 0 && raw.charCodeAt(end - 1) === DOT) end--;
  const host = end === raw.length ? raw : raw.slice(0, end);
  for (let i = 0; i < host.length; i++) {
    const code = host.charCodeAt(i);
    if (code >= UPPER_A && code <= UPPER_Z) return host.toLowerCase();
  }
  return host;
}

export function findVirtualHost(
  table: RoutingTable,
  listener: Listener,
  rawHost: string | undefined,
): VirtualHost | undefined {
  if (rawHost === undefined) return undefined;
  const hosts = listener === 'external' ? table.external : table.internal;
  return hosts.get(normalizeHost(rawHost));
}

// Prefixes are paths and never contain '?', so testing them against the raw target cannot reach
// into the query string; this saves cutting the query off every request.
export function findRoute(
  vhost: Pick<VirtualHost, 'routes'>,
  target: string,
  headers: IncomingHeaders,
): PathRoute | undefined {
  for (const route of vhost.routes) {
    if (target.startsWith(route.prefix) && headersHold(route, headers)) return route;
  }
  return undefined;
}

function headersHold(route: PathRoute, headers: IncomingHeaders): boolean {
  for (const condition of route.headers) if (headers[condition.name] !== condition.exact) return false;
  return true;
}

export function match(table: RoutingTable, request: RequestHead): PathRoute | RejectDecision {
  const vhost = findVirtualHost(table, request.listener, request.host);
  if (!vhost) return UNKNOWN_HOST;
  return findRoute(vhost, request.path, request.headers) ?? NO_MATCHING_PATH;
}
