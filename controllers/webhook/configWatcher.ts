// Keeps the webhook's view of config-defaults, config-features, config-autoscaler and
// config-reserved-instance current,
// through the same ConfigMap store the reconcilers use.
import { CONFIG_AUTOSCALER, parseAutoscalerConfig } from '../../lib/config/autoscaler.ts';
import { CONFIG_DEFAULTS, parseDefaults } from '../../lib/config/defaults.ts';
import { CONFIG_FEATURES, parseFeatures } from '../../lib/config/features.ts';
import { CONFIG_RESERVED_INSTANCE, parseReservedInstanceConfig } from '../../lib/config/reservedInstance.ts';
import { ConfigStore, type ConfigEntries } from '../../lib/config/store.ts';
import type { InformerFactory } from '../../lib/kube/informerFactory.ts';
import type { Logger } from '../../lib/log.ts';
import type { WebhookConfig } from './config.ts';

export const webhookConfigEntries: ConfigEntries<WebhookConfig> = {
  defaults: { name: CONFIG_DEFAULTS, parse: parseDefaults },
  features: { name: CONFIG_FEATURES, parse: parseFeatures },
  autoscaler: { name: CONFIG_AUTOSCALER, parse: parseAutoscalerConfig },
  reservedInstance: { name: CONFIG_RESERVED_INSTANCE, parse: parseReservedInstanceConfig },
};

/**
 * Reads the ConfigMaps in the system namespace through the process's (started) informer factory,
 * and resolves once they are loaded. A ConfigMap
 * that fails to parse keeps the last good value and is logged, so one bad edit never turns every
 * admission into an error.
 */
export async function watchWebhookConfig(
  informers: InformerFactory,
  namespace: string,
  log: Logger,
): Promise<() => WebhookConfig> {
  const store = new ConfigStore({
    informers,
    namespace,
    entries: webhookConfigEntries,
    log: log.with({ part: 'webhook-config' }),
  });
  await store.whenSynced();
  return () => store.snapshot();
}
