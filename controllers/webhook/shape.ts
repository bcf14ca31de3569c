// The shape check that runs before defaulting and validation: every field the object sets has
// the type its CRD's schema gives it, and the required fields the webhook reads are there. The
// API server checks the same schema, but only after the mutating webhook, so without this
// defaulting would meet a string where it expects an object and fail with a JavaScript error
// instead of naming the field. The schemas are the generated CRD files themselves, so the two
// checks cannot drift.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { FieldError } from './validation.ts';

/** The part of a CRD's structural schema the check reads. */
interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  required?: string[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
}

export type ShapedKind = 'Service' | 'Configuration' | 'Revision' | 'Route' | 'DomainMapping';

const CRD_FILES: Record<ShapedKind, string> = {
  Service: 'services.serving.knative.dev.yaml',
  Configuration: 'configurations.serving.knative.dev.yaml',
  Revision: 'revisions.serving.knative.dev.yaml',
  Route: 'routes.serving.knative.dev.yaml',
  DomainMapping: 'domainmappings.serving.knative.dev.yaml',
};

const stringMap: JSONSchemaProps = { type: 'object', additionalProperties: { type: 'string' } };

/**
 * The part of ObjectMeta the webhook reads. The CRDs leave metadata to the API server, which
 * checks it before any webhook is called; this only guards callers that are not an API server.
 */
const OBJECT_META: JSONSchemaProps = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    namespace: { type: 'string' },
    generateName: { type: 'string' },
    labels: stringMap,
    annotations: stringMap,
    ownerReferences: {
      type: 'array',
      items: { type: 'object', properties: { kind: { type: 'string' }, controller: { type: 'boolean' } } },
    },
  },
};

/**
 * The schema's required fields that defaulting or validation read (paths with [] for any index).
 * Other required fields are left to the API server, which words them its own way ("Required value").
 */
const REQUIRED_BY_WEBHOOK = ['containers', 'volumes[].name', 'volumeMounts[].name', 'volumeMounts[].mountPath'];

const readByWebhook = (path: string): boolean => {
  const general = path.replace(/\[\d+\]/g, '[]');
  return REQUIRED_BY_WEBHOOK.some((field) => general === field || general.endsWith(`.${field}`));
};

/** At most this many shape errors are reported; a huge malformed array must not make a huge answer. */
const MAX_ERRORS = 10;

const schemas = new Map<ShapedKind, JSONSchemaProps>();

function schemaOf(kind: ShapedKind): JSONSchemaProps {
  let schema = schemas.get(kind);
  if (!schema) {
    const crd = parse(readFileSync(new URL(`../../crds/${CRD_FILES[kind]}`, import.meta.url), 'utf8')) as {
      spec: { versions: { schema: { openAPIV3Schema: JSONSchemaProps } }[] };
    };
    const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
    // status is the controller's to write; a client's status is ignored, whatever its shape.
    const { status: _status, ...properties } = root.properties ?? {};
    schema = { ...root, properties: { ...properties, metadata: OBJECT_META } };
    schemas.set(kind, schema);
  }
  return schema;
}

/**
 * Reads every kind's schema now: parsing the three large CRDs takes a second or two, which
 * belongs in start-up, not in the first admission request's timeout.
 */
export function loadShapeSchemas(): void {
  for (const kind of Object.keys(CRD_FILES) as ShapedKind[]) schemaOf(kind);
}

export interface Shaped {
  /** The object with null fields left out, as the API server drops them before it stores an object. */
  object: Record<string, unknown>;
  errors: FieldError[];
}

/** Checks object against its kind's CRD schema; prefix names the object in error paths (e.g. `oldObject.`). */
export function checkShape(kind: ShapedKind, object: Record<string, unknown>, prefix = ''): Shaped {
  const walker = new ShapeWalker(prefix);
  const normalized = walker.walk(object, schemaOf(kind), '') as Record<string, unknown>;
  const errors = walker.errors;
  if (walker.dropped > 0)
    errors.push({ path: walker.firstDropped, message: `and ${walker.dropped} more shape errors`, generic: true });
  return { object: normalized, errors };
}

const typeName = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'array'
      : typeof value === 'number' && Number.isInteger(value)
        ? 'integer'
        : typeof value;

function hasType(value: unknown, type: NonNullable<JSONSchemaProps['type']>): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
  }
}

const joinPath = (path: string, field: string) => (path ? `${path}.${field}` : field);

class ShapeWalker {
  readonly errors: FieldError[] = [];
  dropped = 0;
  firstDropped = '';

  private readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  private fail(path: string, message: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push({ path: this.prefix + path, message, generic: true });
    else if (this.dropped++ === 0) this.firstDropped = this.prefix + path;
  }

  walk(value: unknown, schema: JSONSchemaProps, path: string): unknown {
    if (schema['x-kubernetes-int-or-string']) {
      if (!hasType(value, 'integer') && !hasType(value, 'string'))
        this.fail(path, `expected type integer or string, got ${typeName(value)}`);
      return value;
    }
    if (!schema.type) return value;
    if (!hasType(value, schema.type)) {
      this.fail(path, `expected type ${schema.type}, got ${typeName(value)}`);
      return value;
    }
    if (schema.type === 'array' && schema.items) {
      const items = schema.items;
      return (value as unknown[]).map((item, i) => this.walk(item, items, `${path}[${i}]`));
    }
    if (schema.type === 'object') return this.walkObject(value as Record<string, unknown>, schema, path);
    return value;
  }

  private walkObject(object: Record<string, unknown>, schema: JSONSchemaProps, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(object)) {
      // A null field is an unset one: the API server drops it from a structural object.
      if (value === null && !schema['x-kubernetes-preserve-unknown-fields']) continue;
      const field = Object.hasOwn(schema.properties ?? {}, key) ? schema.properties?.[key] : undefined;
      const checked = field
        ? this.walk(value, field, joinPath(path, key))
        : schema.additionalProperties
          ? this.walk(value, schema.additionalProperties, `${path}[${key}]`)
          : value;
      // defineProperty, as a plain assignment to a key named __proto__ would set the prototype.
      Object.defineProperty(out, key, { value: checked, enumerable: true, writable: true, configurable: true });
    }
    for (const key of schema.required ?? []) {
      if (!Object.hasOwn(out, key) && readByWebhook(joinPath(path, key)))
        this.fail(joinPath(path, key), 'missing field(s)');
    }
    return out;
  }
}
