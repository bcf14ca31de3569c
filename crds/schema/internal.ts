// OpenAPI schemas of the internal Knative groups: PodAutoscaler (autoscaling.internal.knative.dev),
// Ingress, ServerlessService and Certificate (networking.internal.knative.dev). Only controllers
// write these.
import { addressable, array, bool, int32, int64, object, objectReference, root, str, stringMap } from './common.ts';
import type { JSONSchemaProps } from './structural.ts';

const protocolType = str('The protocol the revision speaks: http1 or h2c.', { enum: ['http1', 'h2c'] });

export const podAutoscalerSchema = root(
  'PodAutoscaler scales the pods of one revision from the requests they receive.',
  object(
    {
      containerConcurrency: int64('The hard limit of concurrent requests per container; 0 means unlimited.', {
        minimum: 0,
      }),
      scaleTargetRef: objectReference,
      reachability: str('Whether the revision is referenced by a route.', { enum: ['Reachable', 'Unreachable', ''] }),
      protocolType,
    },
    { required: ['scaleTargetRef', 'protocolType'] },
  ),
  {
    serviceName: str('The Kubernetes Service that fronts the revision.'),
    metricsServiceName: str('The Kubernetes Service the autoscaler scrapes.'),
    desiredScale: int32('The number of pods the autoscaler wants.'),
    actualScale: int32('The number of ready pods.'),
  },
);

const loadBalancerStatus = object({
  ingress: array(
    object({
      ip: str(),
      domain: str(),
      domainInternal: str(),
      meshOnly: bool(),
    }),
  ),
});

const intOrString: JSONSchemaProps = {
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  'x-kubernetes-int-or-string': true,
};

const split = object(
  {
    serviceNamespace: str(),
    serviceName: str(),
    servicePort: intOrString,
    percent: int32(undefined, { minimum: 0, maximum: 100 }),
    appendHeaders: stringMap(),
  },
  { required: ['serviceNamespace', 'serviceName', 'servicePort'] },
);

export const ingressSchema = root(
  "Ingress is the load-balancer-neutral description of how a Route's hosts reach revisions.",
  object({
    tls: array(
      object({
        hosts: array(str()),
        secretName: str(),
        secretNamespace: str(),
      }),
    ),
    httpOption: str('Whether plain HTTP is served or redirected to HTTPS.', { enum: ['Enabled', 'Redirected', ''] }),
    rules: array(
      object({
        hosts: array(str()),
        visibility: str(undefined, { enum: ['ExternalIP', 'ClusterLocal'] }),
        http: object({
          paths: array(
            object({
              path: str(),
              rewriteHost: str(),
              headers: { type: 'object', additionalProperties: object({ exact: str() }) },
              appendHeaders: stringMap(),
              splits: array(split),
            }),
          ),
        }),
      }),
    ),
  }),
  {
    publicLoadBalancer: loadBalancerStatus,
    privateLoadBalancer: loadBalancerStatus,
  },
);

export const serverlessServiceSchema = root(
  "ServerlessService switches a revision's traffic between its pods (Serve) and the activator (Proxy).",
  object(
    {
      mode: str('Serve sends traffic to the pods, Proxy to the activator.', { enum: ['Serve', 'Proxy'] }),
      objectRef: objectReference,
      protocolType,
      numActivators: int32('How many activators to use in Proxy mode.', { minimum: 0 }),
    },
    { required: ['objectRef', 'protocolType'] },
  ),
  {
    serviceName: str('The public Service of the revision.'),
    privateServiceName: str("The Service that selects the revision's pods."),
    address: addressable,
  },
);

export const certificateSchema = root(
  'Certificate asks its certificate class for a TLS certificate for some DNS names, kept in a Secret.',
  object(
    {
      dnsNames: array(str(), { description: 'The DNS names the certificate covers.', minItems: 1 }),
      domain: str('The domain of the names, for classes that issue per domain.'),
      secretName: str('The Secret of the same namespace the certificate and its key are written to.', {
        minLength: 1,
      }),
    },
    { required: ['dnsNames', 'secretName'] },
  ),
  {
    notAfter: str('When the issued certificate expires.', { format: 'date-time' }),
    http01Challenges: array(
      object({
        url: str(),
        serviceName: str(),
        serviceNamespace: str(),
        servicePort: intOrString,
      }),
      { description: 'HTTP01 challenges the class needs served to obtain the certificate.' },
    ),
  },
);
