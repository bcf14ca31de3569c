// Types of the internal networking kinds (networking.internal.knative.dev/v1alpha1) that more than
// one process reads, and the ports of the queue-proxy that the Services selecting it expose
// (upstream pkg/apis/networking and pkg/networking constants).
import type { IIngress } from '@kubernetes-models/knative/networking.internal.knative.dev/v1alpha1/Ingress';
import type { V1ObjectMeta, V1ServicePort } from '@kubernetes/client-node';
import type { Condition, Status } from './conditions.ts';
import { QueuePortNames, QueuePorts } from '../hop.ts';
import type { WithStatus } from './status.ts';

export const SKS_API_VERSION = 'networking.internal.knative.dev/v1alpha1';
export const SKS_LABEL = 'networking.internal.knative.dev/serverlessservice';

export type SksMode = 'Serve' | 'Proxy';
export type ProtocolType = 'http1' | 'h2c';

export interface ServerlessServiceStatus extends Status {
  serviceName?: string;
  privateServiceName?: string;
}

export interface ServerlessService {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec: {
    mode?: SksMode;
    objectRef: { apiVersion?: string; kind?: string; name?: string };
    protocolType: ProtocolType;
    numActivators?: number;
  };
  status?: ServerlessServiceStatus;
}

/** Ports of the queue-proxy (Knative's pkg/networking constants). */
export const BackendPorts = {
  http: QueuePorts.http1,
  http2: QueuePorts.h2c,
  https: QueuePorts.https,
  autoscalerMetrics: QueuePorts.autoscalerMetrics,
  userMetrics: QueuePorts.userMetrics,
} as const;

export const backendPort = (protocol: ProtocolType) => (protocol === 'h2c' ? BackendPorts.http2 : BackendPorts.http);
export const portName = (protocol: ProtocolType) => (protocol === 'h2c' ? QueuePortNames.h2c : QueuePortNames.http1);
export const appProtocol = (protocol: ProtocolType) => (protocol === 'h2c' ? { appProtocol: 'kubernetes.io/h2c' } : {});

export function httpsPort(): V1ServicePort {
  return { name: 'https', protocol: 'TCP', port: 443, targetPort: BackendPorts.https };
}

/** The ports of a Service that selects queue-proxies directly: serving, TLS and metrics. */
export function podServicePorts(protocol: ProtocolType): V1ServicePort[] {
  const target = backendPort(protocol);
  return [
    { name: portName(protocol), protocol: 'TCP', ...appProtocol(protocol), port: 80, targetPort: target },
    httpsPort(),
    {
      name: 'http-autometric',
      protocol: 'TCP',
      port: BackendPorts.autoscalerMetrics,
      targetPort: 'http-autometric',
    },
    {
      name: 'http-usermetric',
      protocol: 'TCP',
      port: BackendPorts.userMetrics,
      targetPort: 'http-usermetric',
    },
    // Meshes that route by the Service port need one equal to the container port.
    { name: `${portName(protocol)}-istio`, protocol: 'TCP', port: target, targetPort: target },
  ];
}

export function sksCondition(sks: ServerlessService | undefined, type: string): Condition | undefined {
  return sks?.status?.conditions?.find((c) => c.type === type);
}

/** Knative's IsReady for an SKS: Ready True for the current generation. */
export function isSksReady(sks: ServerlessService | undefined): boolean {
  return sksCondition(sks, 'Ready')?.status === 'True' && sks?.status?.observedGeneration === sks?.metadata?.generation;
}

export const INGRESS_API_VERSION = 'networking.internal.knative.dev/v1alpha1';
export const INGRESS_CLASS_ANNOTATION = 'networking.knative.dev/ingress.class';

/** One address a KIngress's load balancer is reached at (upstream LoadBalancerIngressStatus). */
export interface LoadBalancerIngress {
  ip?: string;
  domain?: string;
  domainInternal?: string;
  meshOnly?: boolean;
}

export interface IngressStatus extends Status {
  publicLoadBalancer?: { ingress?: LoadBalancerIngress[] };
  privateLoadBalancer?: { ingress?: LoadBalancerIngress[] };
}

/**
 * The KIngress, one type for its writers (the Route and DomainMapping reconcilers) and its reader
 * (the gateway): the spec from @kubernetes-models/knative, loose as the API is, since the gateway
 * serves KIngresses any client may have written; the status as the gateway writes it.
 */
export type Ingress = WithStatus<IIngress, IngressStatus>;
export type IngressSpec = NonNullable<Ingress['spec']>;
export type IngressRule = NonNullable<IngressSpec['rules']>[number];
export type IngressPath = NonNullable<NonNullable<IngressRule['http']>['paths']>[number];
export type IngressSplit = NonNullable<IngressPath['splits']>[number];
export type IngressTLS = NonNullable<IngressSpec['tls']>[number];
/** The model types it as any string; these are the values Knative defines ('' for unset). */
export type HttpOption = 'Enabled' | 'Redirected' | '';

/** Which certificate class issues a Certificate; the `certificate-class` spelling is upstream's alternative. */
export const CERTIFICATE_CLASS_ANNOTATIONS = [
  'networking.knative.dev/certificate.class',
  'networking.knative.dev/certificate-class',
] as const;
/** Labels on the Certificates a Route makes (upstream's serving and networking label keys). */
export const CertificateLabels = {
  /** Which TLS setting a Certificate serves (networking CertificateTypeLabelKey). */
  type: 'networking.knative.dev/certificate-type',
  /** The domain a namespace's wildcard Certificate covers (networking WildcardCertDomainLabelKey). */
  wildcardDomain: 'networking.knative.dev/wildcardDomain',
} as const;
/** external-domain-tls's, cluster-local-domain-tls's or system-internal-tls's (upstream config.CertificateType). */
export type CertificateType = 'external-domain' | 'cluster-local-domain' | 'system-internal';

/** On the Secret a Certificate's class writes: the Certificate's uid (upstream CertificateUIDLabelKey). */
export const CERTIFICATE_UID_LABEL = 'networking.internal.knative.dev/certificate-uid';

export interface CertificateStatus extends Status {
  /** When the certificate in the Secret stops being valid (RFC 3339). */
  notAfter?: string;
}

/** A certificate for some DNS names, kept in the Secret spec.secretName of its namespace by its class. */
export interface Certificate {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec: { dnsNames: string[]; domain?: string; secretName: string };
  status?: CertificateStatus;
}

/** The class the annotation names, in upstream's order of precedence; undefined when unset. */
export function certificateClass(certificate: Certificate): string | undefined {
  const annotations = certificate.metadata?.annotations ?? {};
  return CERTIFICATE_CLASS_ANNOTATIONS.map((key) => annotations[key]).find((value) => value);
}
