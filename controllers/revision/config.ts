import type { AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import type { DeploymentConfig } from '../../lib/config/deployment.ts';
import type { Features } from '../../lib/config/features.ts';

/** The parsed ConfigMaps the revision reconciler reads. */
export interface RevisionConfig {
  deployment: DeploymentConfig;
  autoscaler: AutoscalerConfig;
  features: Features;
  systemNamespace: string;
}
