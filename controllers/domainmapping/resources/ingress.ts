// The KIngress of a DomainMapping (upstream pkg/reconciler/domainmapping/resources/ingress.go): one
// external rule for the domain whose only path rewrites the Host to the target's cluster-local
// host, so the request is routed exactly as if it had been sent to the target itself.
import {
  DomainMappingLabels,
  ORIGINAL_HOST_HEADER,
  type DomainMappingObject,
} from '../../../lib/apis/domainMapping.ts';
import { childName, controllerReference } from '../../../lib/apis/kmeta.ts';
import { Annotations } from '../../../lib/apis/serving.ts';
import {
  INGRESS_API_VERSION,
  INGRESS_CLASS_ANNOTATION,
  type HttpOption,
  type Ingress,
  type IngressTLS,
} from '../../../lib/apis/networking.ts';

/** Never copied from the DomainMapping onto its Ingress (upstream route/resources ExcludedAnnotations). */
const EXCLUDED_ANNOTATIONS = new Set([
  Annotations.lastAppliedConfiguration,
  'networking.knative.dev/certificateClass',
  'networking.knative.dev/ingressClass',
]);

export interface DomainMappingTarget {
  /** The target's cluster-local host, e.g. `hello.default.svc.cluster.local`. */
  host: string;
  /** The Service in the DomainMapping's namespace that host names. */
  service: string;
}

export interface DomainMappingIngressOptions {
  target: DomainMappingTarget;
  ingressClass: string;
  httpOption: HttpOption;
  tls: IngressTLS[];
}

export function makeDomainMappingIngress(dm: DomainMappingObject, options: DomainMappingIngressOptions): Ingress {
  const name = dm.metadata?.name ?? '';
  const namespace = dm.metadata?.namespace ?? '';
  const annotations = Object.fromEntries(
    Object.entries({ [INGRESS_CLASS_ANNOTATION]: options.ingressClass, ...dm.metadata?.annotations }).filter(
      ([key]) => !EXCLUDED_ANNOTATIONS.has(key),
    ),
  );
  return {
    apiVersion: INGRESS_API_VERSION,
    kind: 'Ingress',
    metadata: {
      name: childName(name, ''),
      namespace,
      labels: {
        ...dm.metadata?.labels,
        [DomainMappingLabels.uid]: dm.metadata?.uid ?? '',
        [DomainMappingLabels.namespace]: namespace,
      },
      annotations,
      ownerReferences: [controllerReference(dm)],
    },
    spec: {
      httpOption: options.httpOption,
      ...(options.tls.length > 0 ? { tls: options.tls } : {}),
      rules: [
        {
          hosts: [name],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                rewriteHost: options.target.host,
                splits: [
                  {
                    serviceNamespace: namespace,
                    serviceName: options.target.service,
                    servicePort: 80,
                    percent: 100,
                    appendHeaders: { [ORIGINAL_HOST_HEADER]: name },
                  },
                ],
              },
            ],
          },
        },
      ],
    },
  };
}
