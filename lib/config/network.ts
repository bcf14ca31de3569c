// config-network: how routes become hosts and Ingresses (upstream knative.dev/networking pkg/config).
import { z } from 'zod';
import { labelSelectorSchema } from '../apis/labelSelector.ts';
import { boolString, durationString, type ConfigIssueReporter, parseConfigMap, yamlString } from './parse.ts';

/** The Ingress class our gateway realises; Knative's default would be Istio's. */
export const PILOTLIGHT_INGRESS_CLASS = 'pilotlight.ingress.networking.knative.dev';

/**
 * The certificate class pilotlight ships, issuing from a CA kept in a Secret; Knative's default
 * would be cert-manager's, which needs cert-manager installed.
 */
export const PILOTLIGHT_CERTIFICATE_CLASS = 'pilotlight.certificate.networking.knative.dev';

const TEMPLATE_FIELD = /\{\{\s*\.(\w+)\s*\}\}/g;

/** A Go template restricted to plain field references, e.g. `{{.Name}}.{{.Namespace}}.{{.Domain}}`. */
const template = (fields: readonly string[], required: readonly string[]) =>
  z
    .string()
    .trim()
    .min(1)
    .superRefine((value, ctx) => {
      const used = [...value.matchAll(TEMPLATE_FIELD)].map((m) => m[1]!);
      const unknown = used.filter((f) => !fields.includes(f));
      if (unknown.length > 0)
        ctx.addIssue({
          code: 'custom',
          message: `may only use ${fields.map((f) => `{{.${f}}}`).join(', ')}; found {{.${unknown[0]}}}`,
        });
      for (const field of required) {
        if (!used.includes(field)) ctx.addIssue({ code: 'custom', message: `must use {{.${field}}}` });
      }
      if (/\{\{|\}\}/.test(value.replace(TEMPLATE_FIELD, '')))
        ctx.addIssue({ code: 'custom', message: 'has a template action other than a field reference' });
    });

const httpProtocol = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['enabled', 'redirected', 'disabled'].includes(v), 'must be Enabled, Redirected or Disabled')
  .transform(
    (v) =>
      (v === 'enabled' ? 'Enabled' : v === 'redirected' ? 'Redirected' : 'Disabled') as
        | 'Enabled'
        | 'Redirected'
        | 'Disabled',
  );

/** Knative's Enabled/Disabled switches, in any case. */
const enabledString = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => v === 'enabled' || v === 'disabled', 'must be Enabled or Disabled')
  .transform((v) => v === 'enabled');

/** A LabelSelector written as YAML or JSON, e.g. `matchLabels: {wildcards: "on"}`. */
const selectorString = yamlString(labelSelectorSchema);

export const networkSchema = z
  .object({
    'ingress-class': z.string().trim().min(1).default(PILOTLIGHT_INGRESS_CLASS),
    'certificate-class': z.string().trim().min(1).default(PILOTLIGHT_CERTIFICATE_CLASS),
    'domain-template': template(['Name', 'Namespace', 'Domain'], ['Name', 'Domain']).default(
      '{{.Name}}.{{.Namespace}}.{{.Domain}}',
    ),
    'tag-template': template(['Tag', 'Name'], ['Tag', 'Name']).default('{{.Tag}}-{{.Name}}'),
    'http-protocol': httpProtocol.default('Enabled'),
    'rollout-duration': durationString({ wholeSeconds: true }).default(0),
    'default-external-scheme': z.enum(['http', 'https'], { error: 'must be http or https' }).default('http'),
    // Off by default, as upstream: a cluster admin hands out domains by creating ClusterDomainClaims.
    'autocreate-cluster-domain-claims': boolString.default(false),
    // Off by default, as upstream: a Certificate per external host needs a certificate class running.
    'external-domain-tls': enabledString.default(false),
    'cluster-local-domain-tls': enabledString.default(false),
    // Unset, as upstream: no namespace gets a wildcard Certificate.
    'namespace-wildcard-cert-selector': selectorString.optional(),
  })
  .transform((c) => ({
    ingressClass: c['ingress-class'],
    certificateClass: c['certificate-class'],
    domainTemplate: c['domain-template'],
    tagTemplate: c['tag-template'],
    httpProtocol: c['http-protocol'],
    rolloutDurationMs: c['rollout-duration'],
    defaultExternalScheme: c['default-external-scheme'],
    autocreateClusterDomainClaims: c['autocreate-cluster-domain-claims'],
    externalDomainTls: c['external-domain-tls'],
    clusterLocalDomainTls: c['cluster-local-domain-tls'],
    namespaceWildcardCertSelector: c['namespace-wildcard-cert-selector'],
  }));

export type NetworkConfig = z.output<typeof networkSchema>;

export const CONFIG_NETWORK = 'config-network';
export const parseNetworkConfig = (data?: Record<string, string>, report?: ConfigIssueReporter): NetworkConfig =>
  parseConfigMap(CONFIG_NETWORK, networkSchema, data, report);

/** Fills a template's field references. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(TEMPLATE_FIELD, (_, field: string) => values[field] ?? '');
}
