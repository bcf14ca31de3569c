// The routing facade for the server/proxy layer: one call per request, answering with a decision
// the table built in advance. The caller keeps the current table in one variable and swaps it when
// the sync layer builds a new one; a request routed against the old table stays valid.
//
// A forward decision's `upstream.inFlight` is the load the endpoint picker reads: the proxy layer
// increments it when it starts sending and decrements it when the exchange ends.
import { HopHeaders, ProbeValues } from '../../lib/hop.ts';
import { NO_MATCHING_PATH, type RouteDecision } from './decision.ts';
import { findRoute, match, type RequestHead } from './match.ts';
import { pickUpstream } from './split.ts';
import type { RoutingTable } from './table.ts';

export function route(table: RoutingTable, request: RequestHead): RouteDecision {
  const matched = match(table, request);
  if (matched.kind === 'reject') return matched;
  const headers = request.headers;
  if (
    headers[HopHeaders.networkProbe] === ProbeValues.ingress &&
    headers[HopHeaders.networkHash] === ProbeValues.hashOverride
  )
    return matched.probe;
  // A rewriting path (a DomainMapping's) answers probes itself, then routes as its rewritten host.
  const splits =
    matched.splits.kind === 'rewrite'
      ? (findRoute(matched.splits, request.path, request.headers)?.splits ?? NO_MATCHING_PATH)
      : matched.splits;
  // Copies of the rewritten host's routes never rewrite again (table.ts).
  if (splits.kind !== 'weighted') return splits.kind === 'reject' ? splits : NO_MATCHING_PATH;
  const target = splits.targets[splits.schedule.next()]!;
  if (target.kind === 'reject') return target;
  return target.forwards[pickUpstream(target.upstreams, table.randomInt)]!;
}

export * from './decision.ts';
export { normalizeHost, type Listener, type RequestHead } from './match.ts';
export { ingressHash } from './probe.ts';
export type { Upstream } from './split.ts';
export * from './table.ts';
