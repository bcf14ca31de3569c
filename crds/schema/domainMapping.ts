// OpenAPI schemas of serving.knative.dev/v1beta1 DomainMapping and of the cluster-scoped
// networking.internal.knative.dev/v1alpha1 ClusterDomainClaim. Rules that need no configuration
// are CEL here; the ones that depend on the cluster domain or the object's namespace (which CEL
// cannot see) are in the webhook.
import { addressable, object, root, rules, str } from './common.ts';
import type { JSONSchemaProps } from './structural.ts';

/** Kubernetes' IsFullyQualifiedDomainName: two or more DNS-1123 labels of at most 63 characters. */
const FQDN = '^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?[.])+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';

const reference = object(
  {
    apiVersion: str('API version of the referent.'),
    kind: str('Kind of the referent, e.g. Service.'),
    name: str('Name of the referent.'),
    namespace: str("Namespace of the referent; defaulted to the DomainMapping's, and may not differ from it."),
    group: str("API group of the referent; not allowed (Knative's KReference group is off in Serving)."),
    address: str("Name of the referent's address to use."),
  },
  {
    description: 'The Addressable the domain maps to; its address must be a cluster-local {name}.{namespace}.svc host.',
    required: ['kind', 'name', 'apiVersion'],
    ...rules(
      { rule: "self.name != ''", message: 'name must not be empty', fieldPath: '.name' },
      { rule: "self.kind != ''", message: 'kind must not be empty', fieldPath: '.kind' },
      { rule: "self.apiVersion != ''", message: 'apiVersion must not be empty', fieldPath: '.apiVersion' },
      {
        rule: "!has(self.group) || self.group == ''",
        message: 'group is not allowed; use apiVersion',
        fieldPath: '.group',
      },
    ),
  },
);

export const domainMappingSchema: JSONSchemaProps = root(
  'DomainMapping maps a custom domain name (its own name) to an Addressable in its namespace, e.g. a Knative Service.',
  object(
    {
      ref: reference,
      tls: object(
        {
          secretName: str("The Secret in the DomainMapping's namespace that holds the certificate and key.", {
            minLength: 1,
          }),
        },
        { description: 'A certificate provided by the user for the domain.', required: ['secretName'] },
      ),
    },
    { required: ['ref'] },
  ),
  {
    url: str('The URL at which the domain answers.'),
    address: addressable,
  },
  {
    required: ['spec'],
    ...rules(
      {
        rule: `self.metadata.name.size() <= 253 && self.metadata.name.matches('${FQDN}')`,
        messageExpression:
          "'metadata.name: invalid name \"' + self.metadata.name + '\": must be a fully qualified domain name of lower-case DNS labels, e.g. app.example.com'",
      },
      {
        rule: "!has(self.metadata.generateName) || self.metadata.generateName == ''",
        message: 'metadata.generateName: not allowed; a DomainMapping is named after its domain',
      },
    ),
  },
);

export const clusterDomainClaimSchema: JSONSchemaProps = object(
  {
    apiVersion: str(),
    kind: str(),
    metadata: { type: 'object' },
    spec: object(
      {
        namespace: str("The namespace allowed to create a DomainMapping with this claim's name.", { minLength: 1 }),
      },
      { required: ['namespace'] },
    ),
  },
  {
    description: 'ClusterDomainClaim reserves a domain name (its own name) for the DomainMappings of one namespace.',
    required: ['spec'],
  },
);
