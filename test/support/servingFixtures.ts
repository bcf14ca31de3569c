// Objects the controllers' unit tests build on: a revision, the config it is reconciled with,
// and what its Services expose.
import type { Revision } from '../../lib/apis/serving.ts';
import { parseAutoscalerConfig } from '../../lib/config/autoscaler.ts';
import { parseDeploymentConfig } from '../../lib/config/deployment.ts';
import { parseFeatures } from '../../lib/config/features.ts';
import { parseLoggingConfig } from '../../lib/config/logging.ts';
import type { RevisionConfig } from '../../controllers/revision/config.ts';

/** The revision controller's config from these ConfigMap data, with a queue-proxy image set. */
export const revisionConfig = (
  deployment: Record<string, string> = {},
  autoscaler: Record<string, string> = {},
  logging: Record<string, string> = {},
): RevisionConfig => ({
  deployment: parseDeploymentConfig({ 'queue-sidecar-image': 'dev.local/pilotlight:1', ...deployment }),
  autoscaler: parseAutoscalerConfig(autoscaler),
  features: parseFeatures(),
  logging: parseLoggingConfig(logging),
  systemNamespace: 'knative-serving',
});

export interface RevisionShape {
  annotations: Record<string, string>;
  containerConcurrency: number;
  /** Fields of the user container besides its name, image and port. */
  container: Record<string, unknown>;
}

/** Revision hello-00001 of Service hello in ns, routed, with one container serving on 9000; edit changes it further. */
export function makeTestRevision(shape: RevisionShape, edit: (r: any) => void = () => {}): Revision {
  const rev: any = {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: {
      name: 'hello-00001',
      namespace: 'ns',
      uid: 'rev-uid',
      labels: {
        'serving.knative.dev/configuration': 'hello',
        'serving.knative.dev/service': 'hello',
        'serving.knative.dev/routingState': 'active',
      },
      annotations: shape.annotations,
    },
    spec: {
      containerConcurrency: shape.containerConcurrency,
      timeoutSeconds: 120,
      containers: [
        { name: 'user-container', image: 'dev.local/hello:1', ports: [{ containerPort: 9000 }], ...shape.container },
      ],
    },
  };
  edit(rev);
  return rev as Revision;
}

/** The ports of a Service in front of an http1 revision's queue-proxies: serving, TLS, both metrics ports and the mesh port. */
export const HTTP1_QUEUE_SERVICE_PORTS = [
  { name: 'http', protocol: 'TCP', port: 80, targetPort: 8012 },
  { name: 'https', protocol: 'TCP', port: 443, targetPort: 8112 },
  { name: 'http-autometric', protocol: 'TCP', port: 9090, targetPort: 'http-autometric' },
  { name: 'http-usermetric', protocol: 'TCP', port: 9091, targetPort: 'http-usermetric' },
  { name: 'http-istio', protocol: 'TCP', port: 8012, targetPort: 8012 },
];
