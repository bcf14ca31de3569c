import type { AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import type { DeploymentConfig } from '../../lib/config/deployment.ts';
import type { Features } from '../../lib/config/features.ts';
import type { LoggingConfig } from '../../lib/config/logging.ts';

/** The parsed ConfigMaps the revision reconciler reads. */
export interface RevisionConfig {
  deployment: DeploymentConfig;
  autoscaler: AutoscalerConfig;
  features: Features;
  /** config-logging: queue-proxy's level goes into each new pod's environment. */
  logging: LoggingConfig;
  systemNamespace: string;
  /** Where queue-proxy announces its pod and the key of the revision's token; none: no announce. */
  announce?: { host: string; key: Buffer };
}
