// config-deployment: how revisions become Deployments (upstream pkg/deployment/config.go).
import { z } from 'zod';
import { boolString, durationString, type ConfigIssueReporter, parseConfigMap, quantityString } from './parse.ts';

const quantity = quantityString('25m or 400Mi');

export const QUEUE_SIDECAR_JITS = ['optimizing', 'baseline'] as const;
export type QueueSidecarJit = (typeof QUEUE_SIDECAR_JITS)[number];

export const deploymentSchema = z
  .object({
    'queue-sidecar-image': z
      .string({ error: 'is required: the image of the queue-proxy sidecar' })
      .trim()
      .min(1, 'must name the queue-proxy image'),
    'progress-deadline': durationString({ minMs: 1000, wholeSeconds: true }).default(600_000),
    'digest-resolution-timeout': durationString({ minMs: 1 }).default(10_000),
    'registries-skipping-tag-resolving': z
      .string()
      .default('kind.local,ko.local,dev.local')
      .transform((v) =>
        v
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean),
      ),
    'queue-sidecar-cpu-request': quantity.default('25m'),
    'queue-sidecar-cpu-limit': quantity.optional(),
    'queue-sidecar-memory-request': quantity.optional(),
    'queue-sidecar-memory-limit': quantity.optional(),
    'queue-sidecar-ephemeral-storage-request': quantity.optional(),
    'queue-sidecar-ephemeral-storage-limit': quantity.optional(),
    // pilotlight's own key: which of V8's compilers the Node.js sidecar runs with (see queueContainer.ts).
    'queue-sidecar-jit': z
      .enum(QUEUE_SIDECAR_JITS, { error: `must be ${QUEUE_SIDECAR_JITS.join(' or ')}` })
      .default('optimizing'),
    'default-affinity-type': z
      .enum(['prefer-spread-revision-over-nodes', 'none'], {
        error: 'must be prefer-spread-revision-over-nodes or none',
      })
      .default('prefer-spread-revision-over-nodes'),
    'runtime-class-name': z.string().trim().optional(),
    'pod-is-always-schedulable': boolString.default(false),
  })
  .transform((c) => ({
    queueSidecarImage: c['queue-sidecar-image'],
    progressDeadlineSeconds: c['progress-deadline'] / 1000,
    digestResolutionTimeoutMs: c['digest-resolution-timeout'],
    registriesSkippingTagResolving: c['registries-skipping-tag-resolving'],
    queueSidecarResources: {
      requests: compact({
        cpu: c['queue-sidecar-cpu-request'],
        memory: c['queue-sidecar-memory-request'],
        'ephemeral-storage': c['queue-sidecar-ephemeral-storage-request'],
      }),
      limits: compact({
        cpu: c['queue-sidecar-cpu-limit'],
        memory: c['queue-sidecar-memory-limit'],
        'ephemeral-storage': c['queue-sidecar-ephemeral-storage-limit'],
      }),
    },
    queueSidecarJit: c['queue-sidecar-jit'],
    defaultAffinityType: c['default-affinity-type'],
    runtimeClassName: c['runtime-class-name'],
    podIsAlwaysSchedulable: c['pod-is-always-schedulable'],
  }));

function compact(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined));
}

export type DeploymentConfig = z.output<typeof deploymentSchema>;

export const CONFIG_DEPLOYMENT = 'config-deployment';
export const parseDeploymentConfig = (data?: Record<string, string>, report?: ConfigIssueReporter): DeploymentConfig =>
  parseConfigMap(CONFIG_DEPLOYMENT, deploymentSchema, data, report);
