// config-logging: each component's log level (upstream knative.dev/pkg logging/config.go). The
// level of zap-logger-config is every component's, and `loglevel.<component>` overrides it for one;
// the rest of zap-logger-config (encoders, output paths) describes zap itself and is not read.
import { z } from 'zod';
import type { InformerFactory } from '../kube/informerFactory.ts';
import { type Level, type Logger, ZAP_LEVEL_RULE, logLevel, setLogLevel, zapLevel } from '../log.ts';
import type { ConfigIssueReporter } from './parse.ts';
import { ConfigStore } from './store.ts';

export const CONFIG_LOGGING = 'config-logging';
const ZAP_LOGGER_CONFIG = 'zap-logger-config';
const LOGLEVEL_PREFIX = 'loglevel.';
/** The component name of queue-proxy in loglevel.<component>, as upstream spells it. */
export const QUEUE_PROXY_LOGGER = 'queueproxy';

export interface LoggingConfig {
  /** zap-logger-config's level. */
  level: Level;
  /** loglevel.<component> by component. */
  components: Readonly<Record<string, Level>>;
}

const zapConfigSchema = z.looseObject({ level: z.string().optional() });

/** A bad key is left out and reported, so its component keeps the level it would have without it. */
export function parseLoggingConfig(data?: Record<string, string>, report?: ConfigIssueReporter): LoggingConfig {
  let level: Level = 'info';
  const components: Record<string, Level> = {};
  for (const [key, value] of Object.entries(data ?? {})) {
    if (key === ZAP_LOGGER_CONFIG) {
      if (value.trim() === '') continue;
      const parsed = zapConfigSchema.safeParse(parseJson(value));
      if (!parsed.success) {
        report?.({ key, message: 'must be zap\'s JSON configuration, such as {"level": "info"}' });
        continue;
      }
      if (parsed.data.level === undefined) continue;
      const zap = zapLevel(parsed.data.level);
      if (zap === undefined) report?.({ key, message: `level ${ZAP_LEVEL_RULE}` });
      else level = zap;
    } else if (key.startsWith(LOGLEVEL_PREFIX) && key.length > LOGLEVEL_PREFIX.length) {
      // An empty value is no override, as upstream reads it.
      if (value.trim() === '') continue;
      const zap = zapLevel(value);
      if (zap === undefined) report?.({ key, message: ZAP_LEVEL_RULE });
      else components[key.slice(LOGLEVEL_PREFIX.length)] = zap;
    }
  }
  return { level, components };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The level a component logs at: its own override, else zap-logger-config's. */
export const levelOf = (config: LoggingConfig, component: string): Level =>
  config.components[component] ?? config.level;

/**
 * Keeps the process's log level at config-logging's level for component, from every change of the
 * ConfigMap on, without a restart. The watch is the process's ConfigMap informer, stopped by its owner.
 */
export function followLogLevel(options: {
  informers: InformerFactory;
  namespace: string;
  component: string;
  log: Logger;
}): void {
  const store = new ConfigStore({
    informers: options.informers,
    namespace: options.namespace,
    entries: { logging: { name: CONFIG_LOGGING, parse: parseLoggingConfig } },
    log: options.log,
  });
  store.onChange(() => {
    const level = levelOf(store.snapshot().logging, options.component);
    if (level === logLevel()) return;
    options.log.info('log level changed', { from: logLevel(), to: level });
    setLogLevel(level);
  });
}
