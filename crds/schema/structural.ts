// Turns Kubernetes' published OpenAPI v3 definitions into structural CRD schemas
// (no $ref, a type on every node, no defaults), keeping only the fields a mask allows.

export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: string;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  required?: string[];
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  anyOf?: JSONSchemaProps[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-validations'?: ValidationRule[];
}

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** An OpenAPI v3 schema as Kubernetes publishes it under components.schemas. */
export interface OpenApiSchema {
  type?: string;
  description?: string;
  format?: string;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  allOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  $ref?: string;
  default?: unknown;
}

/**
 * For each definition name, the fields that may appear. Definitions absent from the mask keep
 * every field. `relaxRequired` drops fields from `required` that a defaulting webhook fills in.
 */
export interface FieldMask {
  allow: Record<string, readonly string[]>;
  relaxRequired?: Record<string, readonly string[]>;
  /** Fields the upstream type leaves optional but this API requires. */
  require?: Record<string, readonly string[]>;
  /** CEL rules attached to every occurrence of a definition. */
  rules?: Record<string, readonly ValidationRule[]>;
  /** Rules and bounds attached to one field of a definition, keyed `Definition.field`. */
  fieldRules?: Record<
    string,
    Pick<JSONSchemaProps, 'maxItems' | 'minItems' | 'maxLength' | 'minimum' | 'maximum' | 'x-kubernetes-validations'>
  >;
}

const INT_OR_STRING: JSONSchemaProps = {
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  'x-kubernetes-int-or-string': true,
};

const SPECIAL: Record<string, JSONSchemaProps> = {
  'io.k8s.apimachinery.pkg.api.resource.Quantity': {
    ...INT_OR_STRING,
    pattern:
      '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
  },
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': INT_OR_STRING,
  'io.k8s.apimachinery.pkg.apis.meta.v1.Time': { type: 'string', format: 'date-time' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime': { type: 'string', format: 'date-time' },
};

const REF_PREFIX = '#/components/schemas/';

/** The first paragraph of an upstream description: enough for `kubectl explain`, and it keeps
 *  the largest CRD well under the 256 KiB that client-side `kubectl apply` can record. */
const summary = (description: string) => description.split('\n\n')[0]!.trim();

export class StructuralConverter {
  private readonly definitions: Record<string, OpenApiSchema>;
  private readonly mask: FieldMask;

  constructor(definitions: Record<string, OpenApiSchema>, mask: FieldMask) {
    this.definitions = definitions;
    this.mask = mask;
  }

  /** The structural schema of one named definition, e.g. `io.k8s.api.core.v1.PodSpec`. */
  definition(name: string, path: readonly string[] = []): JSONSchemaProps {
    const special = SPECIAL[name];
    if (special) return structuredClone(special);
    const source = this.definitions[name];
    if (!source) throw new Error(`OpenAPI definition ${name} not found`);
    if (path.includes(name)) throw new Error(`recursive definition ${[...path, name].join(' -> ')}`);
    return this.convert(source, name, [...path, name]);
  }

  private convert(source: OpenApiSchema, definitionName: string | undefined, path: readonly string[]): JSONSchemaProps {
    const ref = source.$ref ?? (source.allOf?.length === 1 ? source.allOf[0]?.$ref : undefined);
    if (ref) {
      const resolved = this.definition(ref.slice(REF_PREFIX.length), path);
      if (source.description) resolved.description = summary(source.description);
      return resolved;
    }
    if (source.format === 'int-or-string') return structuredClone(INT_OR_STRING);
    const out: JSONSchemaProps = {};
    if (source.description) out.description = summary(source.description);
    if (source.properties) {
      out.type = 'object';
      const allowed = definitionName ? this.mask.allow[definitionName] : undefined;
      const properties: Record<string, JSONSchemaProps> = {};
      for (const [field, schema] of Object.entries(source.properties).sort(([a], [b]) => a.localeCompare(b))) {
        if (allowed && !allowed.includes(field)) continue;
        properties[field] = this.convert(schema, undefined, path);
        const extra = definitionName ? this.mask.fieldRules?.[`${definitionName}.${field}`] : undefined;
        if (extra) Object.assign(properties[field], structuredClone(extra));
      }
      out.properties = properties;
      const relaxed = definitionName ? (this.mask.relaxRequired?.[definitionName] ?? []) : [];
      const extraRequired = definitionName ? (this.mask.require?.[definitionName] ?? []) : [];
      const required = [...new Set([...(source.required ?? []), ...extraRequired])].filter(
        (f) => f in properties && !relaxed.includes(f),
      );
      if (required.length > 0) out.required = required;
      const rules = definitionName ? this.mask.rules?.[definitionName] : undefined;
      if (rules) out['x-kubernetes-validations'] = structuredClone([...rules]);
      return out;
    }
    if (source.type === 'array') {
      out.type = 'array';
      if (!source.items) throw new Error(`array without items in ${path.join(' -> ')}`);
      out.items = this.convert(source.items, undefined, path);
      return out;
    }
    if (source.type === 'object' || source.additionalProperties) {
      out.type = 'object';
      if (typeof source.additionalProperties === 'object') {
        out.additionalProperties = this.convert(source.additionalProperties, undefined, path);
      } else {
        out['x-kubernetes-preserve-unknown-fields'] = true;
      }
      return out;
    }
    if (!source.type) throw new Error(`schema without type in ${path.join(' -> ')}`);
    out.type = source.type as JSONSchemaProps['type'];
    if (source.format) out.format = source.format;
    if (source.enum) out.enum = [...source.enum];
    return out;
  }
}
