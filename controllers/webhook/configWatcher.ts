// Keeps the webhook's view of config-defaults, config-features and config-autoscaler current.
import { makeInformer, type CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { CONFIG_AUTOSCALER, parseAutoscalerConfig } from '../../lib/config/autoscaler.ts';
import { CONFIG_DEFAULTS, parseDefaults } from '../../lib/config/defaults.ts';
import { CONFIG_FEATURES, parseFeatures } from '../../lib/config/features.ts';
import type { Logger } from '../../lib/log.ts';
import { knativeDefaults, type WebhookConfig } from './config.ts';

const PARSERS = {
  [CONFIG_DEFAULTS]: (data: Record<string, string> | undefined, into: WebhookConfig) => { into.defaults = parseDefaults(data); },
  [CONFIG_FEATURES]: (data: Record<string, string> | undefined, into: WebhookConfig) => { into.features = parseFeatures(data); },
  [CONFIG_AUTOSCALER]: (data: Record<string, string> | undefined, into: WebhookConfig) => { into.autoscaler = parseAutoscalerConfig(data); },
} as const;

type ConfigName = keyof typeof PARSERS;
const isConfigName = (name: string | undefined): name is ConfigName => name !== undefined && name in PARSERS;

/**
 * Watches the ConfigMaps in the system namespace. A ConfigMap that fails to parse keeps the
 * last good value and is logged, so one bad edit never turns every admission into an error.
 */
export async function watchWebhookConfig(kc: KubeConfig, core: CoreV1Api, namespace: string, log: Logger): Promise<() => WebhookConfig> {
  const current = knativeDefaults();
  const apply = (cm: V1ConfigMap, deleted = false) => {
    const name = cm.metadata?.name;
    if (!isConfigName(name)) return;
    try {
      const next = { ...current };
      PARSERS[name](deleted ? undefined : cm.data, next);
      Object.assign(current, next);
      log.info('configuration updated', { configMap: name });
    } catch (error) {
      log.error('ignoring invalid configuration', { configMap: name, error });
    }
  };
  const informer = makeInformer(kc, `/api/v1/namespaces/${namespace}/configmaps`, () => core.listNamespacedConfigMap({ namespace }));
  informer.on('add', (cm) => apply(cm));
  informer.on('update', (cm) => apply(cm));
  informer.on('delete', (cm) => apply(cm, true));
  informer.on('error', (error) => {
    log.warn('config watch failed; restarting', { error });
    setTimeout(() => { informer.start().catch(() => {}); }, 1000);
  });
  await informer.start();
  return () => current;
}
