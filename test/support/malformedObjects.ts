// Seeded generator of malformed serving objects for fuzzing the admission webhook: a well-formed
// object of each kind, then a few mutations at paths taken from the kind's own CRD schema, so
// every level of the schema gets wrong types, missing parents, nulls and huge arrays.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { JSONSchemaProps } from '../../crds/schema/structural.ts';
import type { AdmissionReview } from '../../controllers/webhook/admission.ts';

export type FuzzKind = 'Service' | 'Configuration' | 'Revision' | 'Route' | 'DomainMapping';

const CRD_FILES: Record<FuzzKind, [file: string, version: string]> = {
  Service: ['services.serving.knative.dev.yaml', 'v1'],
  Configuration: ['configurations.serving.knative.dev.yaml', 'v1'],
  Revision: ['revisions.serving.knative.dev.yaml', 'v1'],
  Route: ['routes.serving.knative.dev.yaml', 'v1'],
  DomainMapping: ['domainmappings.serving.knative.dev.yaml', 'v1beta1'],
};

export const FUZZ_KINDS = Object.keys(CRD_FILES) as FuzzKind[];

/** mulberry32: small, fast and reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const revisionSpec = () => ({
  containerConcurrency: 10,
  timeoutSeconds: 60,
  serviceAccountName: 'runner',
  containers: [
    {
      name: 'app',
      image: 'dev.local/app:1',
      ports: [{ name: 'http1', containerPort: 8080 }],
      env: [
        { name: 'A', value: 'b' },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
      resources: { requests: { cpu: '100m' }, limits: { memory: '128Mi' } },
      readinessProbe: { httpGet: { path: '/ready', port: 'http1' }, periodSeconds: 2 },
      livenessProbe: { tcpSocket: { port: 8080 } },
      startupProbe: { grpc: { port: 8080 } },
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
      securityContext: { capabilities: { drop: ['ALL'] } },
    },
    { name: 'sidecar', image: 'dev.local/side:1', readinessProbe: { exec: { command: ['true'] } } },
  ],
  volumes: [{ name: 'data', secret: { secretName: 's' } }],
});

const template = () => ({
  metadata: { name: 'app-00001', annotations: { 'autoscaling.knative.dev/target': '5' } },
  spec: revisionSpec(),
});

const metadata = (name: string) => ({
  name,
  namespace: 'team',
  annotations: { 'serving.knative.dev/rollout-duration': '10s' },
  ownerReferences: [{ apiVersion: 'serving.knative.dev/v1', kind: 'Service', name, uid: 'u', controller: true }],
});

/** A well-formed object of the kind, with something at most levels the webhook reads. */
export function wellFormed(kind: FuzzKind): Record<string, unknown> {
  const apiVersion = `serving.knative.dev/${CRD_FILES[kind][1]}`;
  switch (kind) {
    case 'Service':
      return {
        apiVersion,
        kind,
        metadata: metadata('app'),
        spec: { template: template(), traffic: [{ latestRevision: true, percent: 100, tag: 'current' }] },
      };
    case 'Configuration':
      return { apiVersion, kind, metadata: metadata('app'), spec: { template: template() } };
    case 'Revision':
      return { apiVersion, kind, metadata: metadata('app-00001'), spec: revisionSpec() };
    case 'Route':
      return {
        apiVersion,
        kind,
        metadata: metadata('app'),
        spec: {
          traffic: [
            { revisionName: 'app-00001', percent: 100 },
            { configurationName: 'app', percent: 0 },
          ],
        },
      };
    case 'DomainMapping':
      return {
        apiVersion,
        kind,
        metadata: metadata('app.example.com'),
        spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'app' } },
      };
  }
}

type Segment = string | number;

/** Every path the kind's schema names, down to a depth, with index 0 for array items. */
function schemaPaths(kind: FuzzKind, maxDepth = 9): Segment[][] {
  const crd = parse(readFileSync(new URL(`../../crds/${CRD_FILES[kind][0]}`, import.meta.url), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: JSONSchemaProps } }[] };
  };
  const paths: Segment[][] = [];
  const walk = (schema: JSONSchemaProps, path: Segment[]) => {
    if (path.length > 0) paths.push(path);
    if (path.length >= maxDepth) return;
    for (const [key, field] of Object.entries(schema.properties ?? {})) {
      if (path.length === 0 && key === 'status') continue;
      walk(field, [...path, key]);
    }
    if (schema.items) walk(schema.items, [...path, 0]);
    if (schema.additionalProperties) walk(schema.additionalProperties, [...path, 'some-key']);
  };
  walk(crd.spec.versions[0]!.schema.openAPIV3Schema, []);
  for (const key of ['name', 'namespace', 'generateName', 'annotations', 'labels', 'ownerReferences'])
    paths.push(['metadata', key]);
  paths.push(['metadata', 'annotations', 'serving.knative.dev/rollout-duration']);
  paths.push(['metadata', 'ownerReferences', 0, 'controller']);
  return paths;
}

const pathsByKind = new Map<FuzzKind, Segment[][]>();

/** A value of the wrong type for most fields, sometimes a big one. */
function junk(random: () => number): unknown {
  const pick = Math.floor(random() * 14);
  switch (pick) {
    case 0:
      return 'not-the-right-type';
    case 1:
      return 42;
    case 2:
      return -1.5;
    case 3:
      return true;
    case 4:
      return null;
    case 5:
      return [];
    case 6:
      return {};
    case 7:
      return [null, 'x', 7];
    case 8:
      return Array.from({ length: 2000 + Math.floor(random() * 3000) }, (_, i) => (i % 2 ? 'x' : { name: i }));
    case 9:
      return { nested: { deeper: [{}] } };
    case 10:
      return 'x'.repeat(100_000);
    case 11:
      return Number.MAX_SAFE_INTEGER * 4;
    case 12:
      return [[[]]];
    default:
      // Own keys that name Object.prototype's, as JSON.parse makes them.
      return JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1, "hasOwnProperty": "x"}');
  }
}

function setAt(root: Record<string, unknown>, path: Segment[], value: unknown, random: () => number): void {
  let node: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const container = node as Record<Segment, unknown>;
    const next = container[key];
    if (typeof next !== 'object' || next === null) {
      // A missing parent: usually made, sometimes left as junk so the child cannot be reached.
      if (random() < 0.15) return;
      container[key] = typeof path[i + 1] === 'number' ? [] : {};
    }
    node = container[key];
  }
  (node as Record<Segment, unknown>)[path[path.length - 1]!] = value;
}

function deleteAt(root: Record<string, unknown>, path: Segment[]): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<Segment, unknown>)[key];
  }
  if (typeof node === 'object' && node !== null) delete (node as Record<Segment, unknown>)[path[path.length - 1]!];
}

/** One malformed object: a well-formed one with one to three mutations at schema paths. */
export function malformed(kind: FuzzKind, random: () => number): Record<string, unknown> {
  let paths = pathsByKind.get(kind);
  if (!paths) {
    paths = schemaPaths(kind);
    pathsByKind.set(kind, paths);
  }
  const object = wellFormed(kind);
  const mutations = 1 + Math.floor(random() * 3);
  for (let m = 0; m < mutations; m++) {
    const path = paths[Math.floor(random() * paths.length)]!;
    if (random() < 0.2) deleteAt(object, path);
    else setAt(object, path, junk(random), random);
  }
  // The body an API server sends is JSON: what survives serialization is what the webhook sees.
  return JSON.parse(JSON.stringify(object)) as Record<string, unknown>;
}

export function admissionReview(
  kind: FuzzKind,
  object: Record<string, unknown>,
  operation: 'CREATE' | 'UPDATE',
  oldObject?: Record<string, unknown>,
): AdmissionReview {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'fuzz',
      kind: { group: 'serving.knative.dev', version: CRD_FILES[kind][1], kind },
      operation,
      userInfo: { username: 'fuzzer' },
      object,
      oldObject,
    },
  };
}

/** What no answer to a malformed object may contain: the text of a JavaScript error. */
export const JAVASCRIPT_ERROR_TEXT =
  /TypeError|RangeError|ReferenceError|is not iterable|is not a function|Cannot read propert|Cannot create property|Cannot set propert|undefined|NaN|\[object Object\]/;
