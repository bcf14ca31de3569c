// The webhook configurations that route admission of serving.knative.dev objects to us.
import type { V1MutatingWebhookConfiguration, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';

export const DEFAULTING_WEBHOOK = 'webhook.serving.knative.dev';
export const VALIDATION_WEBHOOK = 'validation.webhook.serving.knative.dev';

export type WebhookEndpoint = { url: string } | { service: { namespace: string; name: string; port: number } };

const rules = [
  {
    apiGroups: ['serving.knative.dev'],
    apiVersions: ['v1'],
    operations: ['CREATE', 'UPDATE'],
    resources: ['services', 'configurations', 'revisions', 'routes'],
    scope: 'Namespaced',
  },
  {
    apiGroups: ['serving.knative.dev'],
    apiVersions: ['v1beta1'],
    operations: ['CREATE', 'UPDATE'],
    resources: ['domainmappings'],
    scope: 'Namespaced',
  },
];

function clientConfig(endpoint: WebhookEndpoint, path: string, caBundle: string) {
  const ca = Buffer.from(caBundle).toString('base64');
  return 'url' in endpoint
    ? { url: `${endpoint.url.replace(/\/$/, '')}${path}`, caBundle: ca }
    : { service: { ...endpoint.service, path }, caBundle: ca };
}

const labels = { 'app.kubernetes.io/name': 'pilotlight', 'app.kubernetes.io/component': 'webhook' };

export function makeWebhookConfigurations(
  endpoint: WebhookEndpoint,
  caBundle: string,
): {
  mutating: V1MutatingWebhookConfiguration;
  validating: V1ValidatingWebhookConfiguration;
} {
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
    rules,
  };
  return {
    mutating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: DEFAULTING_WEBHOOK, labels },
      webhooks: [
        {
          name: DEFAULTING_WEBHOOK,
          clientConfig: clientConfig(endpoint, '/defaulting', caBundle),
          reinvocationPolicy: 'IfNeeded',
          ...common,
        },
      ],
    },
    validating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: VALIDATION_WEBHOOK, labels },
      webhooks: [
        { name: VALIDATION_WEBHOOK, clientConfig: clientConfig(endpoint, '/validation', caBundle), ...common },
      ],
    },
  };
}
