import { parseAutoscalerConfig, type AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import { parseDefaults, type Defaults } from '../../lib/config/defaults.ts';
import { parseFeatures, type Features } from '../../lib/config/features.ts';
import { parseReservedInstanceConfig, type ReservedInstanceConfig } from '../../lib/config/reservedInstance.ts';

/** The ConfigMaps the webhook reads, parsed. */
export interface WebhookConfig {
  defaults: Defaults;
  features: Features;
  autoscaler: AutoscalerConfig;
  reservedInstance: ReservedInstanceConfig;
}

export const knativeDefaults = (): WebhookConfig => ({
  defaults: parseDefaults(),
  features: parseFeatures(),
  autoscaler: parseAutoscalerConfig(),
  reservedInstance: parseReservedInstanceConfig(),
});
