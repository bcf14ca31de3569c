import type { JSONSchemaProps, ValidationRule } from './structural.ts';

export const str = (description?: string, extra: JSONSchemaProps = {}): JSONSchemaProps => ({
  type: 'string',
  ...(description ? { description } : {}),
  ...extra,
});
export const int64 = (description?: string, extra: JSONSchemaProps = {}): JSONSchemaProps => ({
  type: 'integer',
  format: 'int64',
  ...(description ? { description } : {}),
  ...extra,
});
export const int32 = (description?: string, extra: JSONSchemaProps = {}): JSONSchemaProps => ({
  type: 'integer',
  format: 'int32',
  ...(description ? { description } : {}),
  ...extra,
});
export const bool = (description?: string): JSONSchemaProps => ({
  type: 'boolean',
  ...(description ? { description } : {}),
});
export const stringMap = (description?: string): JSONSchemaProps => ({
  type: 'object',
  additionalProperties: { type: 'string' },
  ...(description ? { description } : {}),
});
export const object = (
  properties: Record<string, JSONSchemaProps>,
  extra: Omit<JSONSchemaProps, 'type' | 'properties'> = {},
): JSONSchemaProps => ({ type: 'object', properties, ...extra });
export const array = (
  items: JSONSchemaProps,
  extra: Omit<JSONSchemaProps, 'type' | 'items'> = {},
): JSONSchemaProps => ({
  type: 'array',
  items,
  ...extra,
});
export const rules = (...list: ValidationRule[]): Pick<JSONSchemaProps, 'x-kubernetes-validations'> => ({
  'x-kubernetes-validations': list,
});

/** RFC 1035 label: what Kubernetes requires of Service names, and Knative of tags. */
export const DNS1035_LABEL = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

const condition = object(
  {
    type: str('Type of condition.'),
    status: str('Status of the condition, one of True, False, Unknown.'),
    severity: str('Severity with which to treat failures of this type of condition; empty means Error.'),
    lastTransitionTime: str('Last time the condition transitioned from one status to another.'),
    reason: str("The reason for the condition's last transition."),
    message: str('A human readable message indicating details about the transition.'),
  },
  { required: ['type', 'status'] },
);

/** Fields every Knative status shares (knative.dev/pkg duckv1.Status). */
export const duckStatus: Record<string, JSONSchemaProps> = {
  observedGeneration: int64('The generation last processed by the controller.'),
  conditions: array(condition, { description: "The latest available observations of the resource's state." }),
  annotations: stringMap('Additional status fields for the resource.'),
};

/** A top-level object: its spec, and a status with Knative's shared fields plus its own. */
export const root = (
  description: string,
  spec: JSONSchemaProps,
  status: Record<string, JSONSchemaProps>,
  extra: JSONSchemaProps = {},
) =>
  object(
    {
      apiVersion: str(),
      kind: str(),
      metadata: { type: 'object' },
      spec,
      status: object({ ...duckStatus, ...status }),
    },
    { description, ...extra },
  );

export const addressable = object({
  name: str(),
  url: str(),
  CACerts: str(),
  audience: str(),
});

export const objectReference = object(
  {
    apiVersion: str(),
    kind: str(),
    name: str(),
  },
  { required: ['apiVersion', 'kind', 'name'] },
);

export const readyColumns = [
  { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
  { name: 'Reason', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].reason" },
];
