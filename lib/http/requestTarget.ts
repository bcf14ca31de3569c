// One authority per request (RFC 9112 §3.2, §3.2.2; RFC 9113 §8.3.1): a proxy that routes by one
// name and forwards another lets a client reach an app under a host the route never allowed. Every
// hop checks the request target and Host before anything else, and turns an absolute-form target
// into the origin-form and Host that the next hop and the app will see.
import type { IncomingHttpHeaders } from 'node:http';

export interface RequestHead {
  readonly url?: string | undefined;
  readonly httpVersionMajor: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

/** What the request is to be routed and forwarded as, or why it is refused with 400. */
export type TargetCheck =
  | { readonly ok: true; readonly authority: string | undefined; readonly path: string; readonly absolute: boolean }
  | { readonly ok: false; readonly reason: string };

// scheme "://" authority, then the path and query (fragments never reach a server).
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)([^#]*)$/i;

function hostCount(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') count++;
  }
  return count;
}

const refuse = (reason: string): TargetCheck => ({ ok: false, reason });

export function checkRequestTarget(req: RequestHead): TargetCheck {
  if (hostCount(req.rawHeaders) > 1) return refuse('more than one Host header');
  const host = req.headers.host;
  const h2Authority = req.headers[':authority'];
  if (
    req.httpVersionMajor >= 2 &&
    typeof h2Authority === 'string' &&
    host !== undefined &&
    host.toLowerCase() !== h2Authority.toLowerCase()
  )
    return refuse(':authority and Host differ');
  const url = req.url ?? '/';
  const authority = host ?? (typeof h2Authority === 'string' ? h2Authority : undefined);
  if (url.charCodeAt(0) === 47 /* '/' */) return { ok: true, authority, path: url, absolute: false };
  // The asterisk-form asks the server itself, and a proxy has no server of its own to answer for.
  if (url === '*') return refuse('asterisk-form request target');
  // HTTP/2 carries the authority in :authority; its :path is always origin-form (RFC 9113 §8.3.1).
  if (req.httpVersionMajor >= 2) return refuse(':path is not origin-form');
  const absolute = ABSOLUTE_FORM.exec(url);
  if (absolute === null) return refuse('request target is neither origin-form nor absolute-form');
  const target = absolute[1]!;
  if (target === '' || target.includes('@')) return refuse('absolute-form target without a plain authority');
  const rest = absolute[2]!;
  return { ok: true, authority: target, path: rest === '' || rest[0] === '?' ? `/${rest}` : rest, absolute: true };
}

interface MutableHead extends RequestHead {
  url?: string | undefined;
  readonly rawHeaders: string[];
}

/**
 * Checks the request's target and Host and writes an absolute-form target back into the request
 * as the origin-form and Host the next hop must see. Returns why the request must be answered
 * 400, or undefined.
 */
export function normalizeRequestTarget(req: MutableHead): string | undefined {
  const check = checkRequestTarget(req);
  if (!check.ok) return check.reason;
  if (check.absolute) applyAbsoluteForm(req, check.authority!, check.path);
  return undefined;
}

function applyAbsoluteForm(req: MutableHead, authority: string, path: string): void {
  req.url = path;
  req.headers.host = authority;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') {
      raw[i + 1] = authority;
      return;
    }
  }
  raw.push('Host', authority);
}
