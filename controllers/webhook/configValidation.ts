// config.webhook.serving.knative.dev: an edit of one of Knative's ConfigMaps in the system
// namespace is refused at `kubectl apply` when a key breaks its rule, naming the key and the rule,
// as Knative's configmaps admission controller does. Had it been stored, that key alone would
// have fallen back to its default (lib/config/parse.ts); the user learns it at once instead.
import { CONFIG_AUTOSCALER, parseAutoscalerConfig } from '../../lib/config/autoscaler.ts';
import { CONFIG_DEFAULTS, parseDefaults } from '../../lib/config/defaults.ts';
import { CONFIG_DEPLOYMENT, parseDeploymentConfig } from '../../lib/config/deployment.ts';
import { CONFIG_DOMAIN, parseDomainConfig } from '../../lib/config/domain.ts';
import { CONFIG_FEATURES, parseFeatures } from '../../lib/config/features.ts';
import { CONFIG_GC, parseGcConfig } from '../../lib/config/gc.ts';
import { CONFIG_LOGGING, parseLoggingConfig } from '../../lib/config/logging.ts';
import { CONFIG_NETWORK, parseNetworkConfig } from '../../lib/config/network.ts';
import { type ConfigIssueReporter, configMapIssues } from '../../lib/config/parse.ts';
import { CONFIG_RESERVED_INSTANCE, parseReservedInstanceConfig } from '../../lib/config/reservedInstance.ts';
import type { FieldError } from './validation.ts';

type Parser = (data: Record<string, string>, report: ConfigIssueReporter) => unknown;

/** Every ConfigMap a pilotlight component reads, by name, with its parser. */
const PARSERS: Readonly<Record<string, Parser>> = {
  [CONFIG_AUTOSCALER]: parseAutoscalerConfig,
  [CONFIG_DEFAULTS]: parseDefaults,
  [CONFIG_DEPLOYMENT]: parseDeploymentConfig,
  [CONFIG_DOMAIN]: parseDomainConfig,
  [CONFIG_FEATURES]: parseFeatures,
  [CONFIG_GC]: parseGcConfig,
  [CONFIG_LOGGING]: parseLoggingConfig,
  [CONFIG_NETWORK]: parseNetworkConfig,
  [CONFIG_RESERVED_INSTANCE]: parseReservedInstanceConfig,
};

export const VALIDATED_CONFIG_MAPS: readonly string[] = Object.keys(PARSERS).sort();

/**
 * What is wrong with a ConfigMap called name holding data, key by key (`data.<key>`); nothing for
 * a ConfigMap no component reads. Values that are not strings are the API server's to refuse.
 */
export function configMapErrors(name: string, data: Record<string, string>): FieldError[] {
  const parse = PARSERS[name];
  if (parse === undefined) return [];
  return configMapIssues(parse, data).map((issue) => ({
    path: issue.key === '' ? 'data' : `data.${issue.key}`,
    message: issue.message,
  }));
}
