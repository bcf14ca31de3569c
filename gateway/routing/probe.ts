// Knative's ingress readiness probing (knative.dev/networking pkg/status, pkg/ingress).
//
// Upstream, the ingress controller rewrites each KIngress (InsertProbe) so that a request carrying
// `K-Network-Hash: override` is forwarded with `K-Network-Hash: <hash of the spec>`, and the
// activator or queue-proxy echoes that header back. Here the gateway answers the probe itself from
// its routing table: the answer proves the same thing (this gateway has loaded this spec) without a
// cold start or an activator in the way. A client's K-Network-Probe and K-Network-Hash on any other
// request are internal headers it may not set, and the gateway drops them (proxy.ts). The hash is upstream's
// (`ingress.ComputeHash`), which KIngress conformance checks byte for byte, and any prober that
// marks our KIngresses Ready must compute it with `ingressHash` below. A host lost to an older
// Ingress (see table.ts) answers with the winner's hash, so the losing Ingress never becomes Ready,
// which is the signal it should get.
import { createHash } from 'node:crypto';
import type { Ingress } from '../../lib/apis/networking.ts';

/**
 * Upstream's `ComputeHash`, hex: SHA-256 over the spec as Go's encoding/json marshals the
 * v1alpha1.IngressSpec struct decoded from this object, followed by the namespace and the name.
 */
export function ingressHash(ingress: Ingress): string {
  let hash = hashes.get(ingress);
  if (hash === undefined) {
    hash = createHash('sha256')
      .update(goIngressSpecJson(ingress.spec), 'utf8')
      .update(ingress.metadata?.namespace ?? '', 'utf8')
      .update(ingress.metadata?.name ?? '', 'utf8')
      .digest('hex');
    hashes.set(ingress, hash);
  }
  return hash;
}

// Hashing is most of the cost of building a table, and a rebuild usually sees the same Ingress
// objects again: informer caches replace an object on update and never change it in place.
const hashes = new WeakMap<Ingress, string>();

// ---- The spec as Go marshals it ----
//
// What a Go client holds is what it decoded from the API server's JSON into the typed struct, so
// each function below reads a field as Go's decoder would (unknown fields dropped, null or absent
// giving the zero value) and writes it as Go's encoder would: fields in struct declaration order
// (knative.dev/networking pkg/apis/networking/v1alpha1/ingress_types.go), `omitempty` fields left
// out when zero (empty string, 0, nil or empty slice or map, nil pointer), other slices written
// `null` when nil, map keys sorted by their UTF-8 bytes, no whitespace. The Knative CRD's schema
// means the server only ever sends the types the struct declares; a value of another type is read
// as the zero value (Go would refuse the whole object).

type Json = unknown;
type JsonObject = Record<string, Json>;

const isObject = (value: Json): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const objectOf = (value: Json): JsonObject => (isObject(value) ? value : {});
/** A Go slice: undefined is nil, which differs from empty only for fields without omitempty. */
const sliceOf = (value: Json): readonly Json[] | undefined => (Array.isArray(value) ? value : undefined);

/** IngressSpec: tls, rules, httpOption; all omitempty. */
function goIngressSpecJson(spec: Json): string {
  const s = objectOf(spec);
  const fields: string[] = [];
  const tls = sliceOf(s.tls);
  if (tls?.length) fields.push(`"tls":${list(tls, ingressTls)}`);
  const rules = sliceOf(s.rules);
  if (rules?.length) fields.push(`"rules":${list(rules, ingressRule)}`);
  omitEmptyString(fields, 'httpOption', s.httpOption);
  return `{${fields.join(',')}}`;
}

/** IngressTLS: hosts, secretName, secretNamespace; all omitempty. */
function ingressTls(value: Json): string {
  const t = objectOf(value);
  const fields: string[] = [];
  omitEmptyStrings(fields, 'hosts', t.hosts);
  omitEmptyString(fields, 'secretName', t.secretName);
  omitEmptyString(fields, 'secretNamespace', t.secretNamespace);
  return `{${fields.join(',')}}`;
}

/** IngressRule: hosts, visibility, http (a pointer); all omitempty. */
function ingressRule(value: Json): string {
  const r = objectOf(value);
  const fields: string[] = [];
  omitEmptyStrings(fields, 'hosts', r.hosts);
  omitEmptyString(fields, 'visibility', r.visibility);
  // A pointer: left out only when nil (absent or null); `{}` is a value with nil paths.
  if (isObject(r.http)) fields.push(`"http":{"paths":${nullableList(sliceOf(r.http.paths), httpIngressPath)}}`);
  return `{${fields.join(',')}}`;
}

/** HTTPIngressPath: path, rewriteHost, headers, splits (no omitempty), appendHeaders. */
function httpIngressPath(value: Json): string {
  const p = objectOf(value);
  const fields: string[] = [];
  omitEmptyString(fields, 'path', p.path);
  omitEmptyString(fields, 'rewriteHost', p.rewriteHost);
  omitEmptyMap(fields, 'headers', p.headers, headerMatch);
  fields.push(`"splits":${nullableList(sliceOf(p.splits), ingressBackendSplit)}`);
  omitEmptyMap(fields, 'appendHeaders', p.appendHeaders, goString);
  return `{${fields.join(',')}}`;
}

/** HeaderMatch: exact (no omitempty). */
const headerMatch = (value: Json): string => `{"exact":${goString(objectOf(value).exact)}}`;

/**
 * IngressBackendSplit: the inlined IngressBackend's serviceNamespace, serviceName and servicePort
 * (none omitempty), then percent and appendHeaders (omitempty).
 */
function ingressBackendSplit(value: Json): string {
  const b = objectOf(value);
  let json = `{"serviceNamespace":${goString(b.serviceNamespace)},"serviceName":${goString(b.serviceName)},"servicePort":${intOrString(b.servicePort)}`;
  const percent = goInt(b.percent);
  if (percent !== '0') json += `,"percent":${percent}`;
  const fields: string[] = [];
  omitEmptyMap(fields, 'appendHeaders', b.appendHeaders, goString);
  return fields.length ? `${json},${fields.join(',')}}` : `${json}}`;
}

/** intstr.IntOrString: a JSON string stays a string, anything else is an int32 (null is 0). */
const intOrString = (value: Json): string => (typeof value === 'string' ? goString(value) : goInt(value));

function goInt(value: Json): string {
  if (typeof value !== 'number' || !Number.isInteger(value)) return '0';
  return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
}

function omitEmptyString(fields: string[], name: string, value: Json): void {
  if (typeof value === 'string' && value !== '') fields.push(`"${name}":${goString(value)}`);
}

/** A []string with omitempty; null elements decode to "". */
function omitEmptyStrings(fields: string[], name: string, value: Json): void {
  const items = sliceOf(value);
  if (items?.length) fields.push(`"${name}":${list(items, goString)}`);
}

/** A map[string]T with omitempty: keys sorted as Go sorts strings (by UTF-8 bytes). */
function omitEmptyMap(fields: string[], name: string, value: Json, element: (value: Json) => string): void {
  if (!isObject(value)) return;
  const entries = Object.entries(value).map(([key, v]): [string, Json] => [key.toWellFormed(), v]);
  if (entries.length === 0) return;
  entries.sort(([a], [b]) => compareUtf8(a, b));
  fields.push(`"${name}":{${entries.map(([key, v]) => `${goString(key)}:${element(v)}`).join(',')}}`);
}

const list = (items: readonly Json[], element: (value: Json) => string): string => `[${items.map(element).join(',')}]`;
const nullableList = (items: readonly Json[] | undefined, element: (value: Json) => string): string =>
  items ? list(items, element) : 'null';

/**
 * Compares as Go's strings.Compare does on the UTF-8 encodings, which is code point order: UTF-16
 * code units order the same except that surrogates (U+10000 and up) sort before U+E000–U+FFFF.
 */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

// Go's encoding/json string escaping with its default HTML escaping: `"` and `\`, control
// characters (\b \f \n \r \t by name, the rest as \u00XX), `<` `>` `&`, U+2028 and U+2029.
// Everything else, DEL and non-ASCII included, is written as is (UTF-8). A lone surrogate, which
// Go's decoder turns into U+FFFD, is replaced the same way (toWellFormed).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const NEEDS_ESCAPE = /["\\<>&\u0000-\u001f\u2028\u2029]/;
const ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** A Go string field as JSON; anything but a string (null, absent) is Go's zero value "". */
function goString(value: Json): string {
  if (typeof value !== 'string') return '""';
  const s = value.toWellFormed();
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  for (const c of s) {
    if (!NEEDS_ESCAPE.test(c)) out += c;
    else out += ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}
