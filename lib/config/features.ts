// config-features: optional parts of the Kubernetes PodSpec and data-plane features
// (upstream pkg/apis/config/features.go). Values: Enabled, Disabled, Allowed; secure-pod-defaults
// takes Enabled, Disabled or AllowRootBounded, as Knative 1.19 on.
import { z } from 'zod';
import { type ConfigIssueReporter, parseConfigMap } from './parse.ts';

export type Flag = 'Enabled' | 'Disabled' | 'Allowed' | 'AllowRootBounded';

/** One of values, matched without regard to case as Knative does, in its canonical spelling. */
const flag = (fallback: Flag, values: readonly Flag[] = ['Enabled', 'Disabled', 'Allowed']) =>
  z
    .string()
    .trim()
    .transform((v, ctx) => {
      const match = values.find((value) => value.toLowerCase() === v.toLowerCase());
      if (match === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}` });
        return z.NEVER;
      }
      return match;
    })
    .default(fallback);

/** secure-pod-defaults: AllowRootBounded applies the secure defaults except runAsNonRoot. */
const SECURE_POD_DEFAULTS: readonly Flag[] = ['Enabled', 'Disabled', 'AllowRootBounded'];

/** Feature keys and their defaults. */
const FEATURE_DEFAULTS = {
  'multi-container': 'Enabled',
  'multi-container-probing': 'Disabled',
  'kubernetes.podspec-affinity': 'Disabled',
  'kubernetes.podspec-topologyspreadconstraints': 'Disabled',
  'kubernetes.podspec-hostaliases': 'Disabled',
  'kubernetes.podspec-fieldref': 'Disabled',
  'kubernetes.podspec-nodeselector': 'Disabled',
  'kubernetes.podspec-runtimeclassname': 'Disabled',
  'kubernetes.podspec-securitycontext': 'Disabled',
  'kubernetes.podspec-shareprocessnamespace': 'Disabled',
  'kubernetes.podspec-hostipc': 'Disabled',
  'kubernetes.podspec-hostpid': 'Disabled',
  'kubernetes.podspec-hostnetwork': 'Disabled',
  'kubernetes.podspec-priorityclassname': 'Disabled',
  'kubernetes.podspec-schedulername': 'Disabled',
  'kubernetes.containerspec-addcapabilities': 'Disabled',
  'kubernetes.podspec-tolerations': 'Disabled',
  'kubernetes.podspec-volumes-emptydir': 'Enabled',
  'kubernetes.podspec-volumes-hostpath': 'Disabled',
  'kubernetes.podspec-volumes-mount-propagation': 'Disabled',
  'kubernetes.podspec-volumes-csi': 'Disabled',
  'kubernetes.podspec-volumes-ephemeral': 'Disabled',
  'kubernetes.podspec-volumes-image': 'Disabled',
  'kubernetes.podspec-persistent-volume-claim': 'Disabled',
  'kubernetes.podspec-persistent-volume-write': 'Disabled',
  'kubernetes.podspec-init-containers': 'Disabled',
  'kubernetes.podspec-dnspolicy': 'Disabled',
  'kubernetes.podspec-dnsconfig': 'Disabled',
  'queueproxy.mount-podinfo': 'Disabled',
  'queueproxy.resource-defaults': 'Disabled',
  'secure-pod-defaults': 'Disabled',
  'tag-header-based-routing': 'Disabled',
  'autodetect-http2': 'Disabled',
} as const satisfies Record<string, Flag>;

export type FeatureKey = keyof typeof FEATURE_DEFAULTS;

export const featuresSchema = z.object(
  Object.fromEntries(
    Object.entries(FEATURE_DEFAULTS).map(([key, fallback]) => [
      key,
      key === 'secure-pod-defaults' ? flag(fallback, SECURE_POD_DEFAULTS) : flag(fallback),
    ]),
  ) as {
    [K in FeatureKey]: ReturnType<typeof flag>;
  },
);

export type Features = Record<FeatureKey, Flag>;

export const CONFIG_FEATURES = 'config-features';
export const parseFeatures = (data?: Record<string, string>, report?: ConfigIssueReporter): Features =>
  parseConfigMap(CONFIG_FEATURES, featuresSchema, data, report);
