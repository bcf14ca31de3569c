// The webhook configurations that route admission of serving.knative.dev objects to us.
import type { V1MutatingWebhookConfiguration, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { CONFIG_VALIDATION_PATH } from './admission.ts';
import { VALIDATED_CONFIG_MAPS } from './configValidation.ts';

export const DEFAULTING_WEBHOOK = 'webhook.serving.knative.dev';
export const VALIDATION_WEBHOOK = 'validation.webhook.serving.knative.dev';
export const CONFIG_VALIDATION_WEBHOOK = 'config.webhook.serving.knative.dev';

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

/**
 * The system namespace's ConfigMaps (namespaceSelector), and of those only the ones a component
 * reads (matchConditions; an API server older than 1.30 may drop them, and the webhook then
 * allows the others itself): a down webhook must not block writes of every other ConfigMap.
 */
function configMapWebhook(endpoint: WebhookEndpoint, caBundle: string, systemNamespace: string) {
  const names = VALIDATED_CONFIG_MAPS.map((name) => `'${name}'`).join(', ');
  return {
    name: CONFIG_VALIDATION_WEBHOOK,
    clientConfig: clientConfig(endpoint, CONFIG_VALIDATION_PATH, caBundle),
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': systemNamespace } },
    matchConditions: [{ name: 'knative-config-maps', expression: `object.metadata.name in [${names}]` }],
    rules: [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['configmaps'],
        scope: 'Namespaced',
      },
    ],
  };
}

export function makeWebhookConfigurations(
  endpoint: WebhookEndpoint,
  caBundle: string,
  systemNamespace: string,
): {
  mutating: V1MutatingWebhookConfiguration;
  validating: V1ValidatingWebhookConfiguration;
  configValidating: V1ValidatingWebhookConfiguration;
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
    configValidating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: CONFIG_VALIDATION_WEBHOOK, labels },
      webhooks: [configMapWebhook(endpoint, caBundle, systemNamespace)],
    },
  };
}
