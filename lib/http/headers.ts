// Hop-by-hop header handling (RFC 9110 §7.6.1): these describe one connection, so a proxy
// must not pass them on, nor any header the Connection header names.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Lower-cased header names listed in a Connection header, or undefined when there are none. */
function connectionTokens(connection: string | string[] | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const text = Array.isArray(connection) ? connection.join(',') : connection;
  if (text === 'keep-alive' || text === 'close') return undefined;
  let tokens: Set<string> | undefined;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    // Host names the request's target, not the connection: no client may take it from the app.
    if (name !== '' && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade' && name !== 'host')
      (tokens ??= new Set()).add(name);
  }
  return tokens;
}

/**
 * The end-to-end request headers as a flat [name, value, …] list (undici's cheapest header
 * form), keeping the client's order, case and repeats. HTTP/2 pseudo-headers are dropped, and
 * `:authority` becomes Host when the client sent no Host, so an h2 request can go to an h1
 * upstream.
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  headers: IncomingHttpHeaders,
  drop?: ReadonlySet<string>,
): string[] {
  const listed = connectionTokens(headers.connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const lower = name.toLowerCase();
    // Node's server has already answered "Expect: 100-continue" to the client (and undici
    // refuses the header), so the expectation ends here.
    if (HOP_BY_HOP.has(lower) || listed?.has(lower) || drop?.has(lower) || lower === 'expect') {
      // gRPC needs "TE: trailers" end to end; it is the one TE value a proxy may pass on.
      if (lower === 'te' && rawHeaders[i + 1]!.toLowerCase() === 'trailers') out.push(name, 'trailers');
      continue;
    }
    out.push(name, rawHeaders[i + 1]!);
  }
  const authority = headers[':authority'];
  if (headers.host === undefined && typeof authority === 'string') out.push('host', authority);
  return out;
}

/** Sets Host in a flat header list, replacing the client's. */
export function replaceHost(headers: string[], host: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 4 && headers[i]!.toLowerCase() === 'host') {
      headers[i + 1] = host;
      return;
    }
  }
  headers.push('host', host);
}

/** The end-to-end response headers of an upstream response, ready for writeHead. */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}
