// config-reserved-instance and the per-revision `pilotlight.dev/reserved-instance*` annotations:
// whether an idle revision keeps one small burstable instance instead of scaling to zero, and how
// that instance is sized. A pilotlight feature; upstream Knative has none.
import { z } from 'zod';
import type { AnnotationIssue } from './autoscalingAnnotations.ts';
import { boolString, intString, type ConfigIssueReporter, parseConfigMap, quantityValue } from './parse.ts';

export const ReservedInstanceAnnotations = {
  mode: 'pilotlight.dev/reserved-instance',
  cpuRequest: 'pilotlight.dev/reserved-instance-cpu-request',
  cpuLimit: 'pilotlight.dev/reserved-instance-cpu-limit',
  memoryRequest: 'pilotlight.dev/reserved-instance-memory-request',
  memoryLimit: 'pilotlight.dev/reserved-instance-memory-limit',
  containerConcurrency: 'pilotlight.dev/reserved-instance-container-concurrency',
  nodeSelector: 'pilotlight.dev/reserved-instance-node-selector',
  priorityClass: 'pilotlight.dev/reserved-instance-priority-class',
  /** On the Revision's status: which instances answer its requests now. */
  instanceMode: 'pilotlight.dev/instance-mode',
} as const;

export const ReservedInstanceLabels = {
  /** On reserved pods, in place of serving.knative.dev/revision, which marks standard pods. */
  revision: 'pilotlight.dev/reserved-revision',
  revisionUID: 'pilotlight.dev/reserved-revision-uid',
  /** On the reserved Service (and so its Endpoints): requests one reserved pod takes at once. */
  containerConcurrency: 'pilotlight.dev/container-concurrency',
} as const;

/** `networking.internal.knative.dev/serviceType` of the reserved Service. */
export const RESERVED_SERVICE_TYPE = 'Reserved';

export type InstanceMode = 'standard' | 'reserved-only' | 'scaling-from-reserved';
export const INSTANCE_MODES: readonly InstanceMode[] = ['standard', 'reserved-only', 'scaling-from-reserved'];

const positiveQuantity = z
  .string()
  .trim()
  .refine((v) => (quantityValue(v) ?? 0) > 0, 'must be a positive Kubernetes quantity such as 25m, 1 or 64Mi');

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = key.slice(slash + 1);
  return LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix)));
}

/** "k=v,k2=v2" as a map of node labels; "" is none. */
const nodeSelector = z.string().transform((text, ctx) => {
  const selector: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq).trim();
    const value = eq < 0 ? undefined : pair.slice(eq + 1).trim();
    if (value === undefined || !isLabelKey(key) || (value !== '' && !LABEL_NAME.test(value))) {
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(pair)} is not a node label: use comma-separated key=value pairs such as "pool=burstable,zone=a"`,
      });
      return z.NEVER;
    }
    selector[key] = value;
  }
  return selector;
});

/** "" is none. */
const priorityClassName = z
  .string()
  .trim()
  .refine(
    (v) => v === '' || (v.length <= 253 && DNS1123_SUBDOMAIN.test(v)),
    'must be the name of a PriorityClass (a lowercase RFC 1123 subdomain)',
  )
  .transform((v) => v || undefined);

/** The rule for each sizing key; ConfigMap key and annotation share it. */
const SIZING = {
  'cpu-request': positiveQuantity,
  'cpu-limit': positiveQuantity,
  'memory-request': positiveQuantity,
  'memory-limit': positiveQuantity,
  'container-concurrency': intString({ min: 1 }),
  'node-selector': nodeSelector,
  'priority-class-name': priorityClassName,
} as const;

type SizingKey = keyof typeof SIZING;

/** The annotation that overrides each ConfigMap key on one revision. */
const ANNOTATION_OF: Record<SizingKey, string> = {
  'cpu-request': ReservedInstanceAnnotations.cpuRequest,
  'cpu-limit': ReservedInstanceAnnotations.cpuLimit,
  'memory-request': ReservedInstanceAnnotations.memoryRequest,
  'memory-limit': ReservedInstanceAnnotations.memoryLimit,
  'container-concurrency': ReservedInstanceAnnotations.containerConcurrency,
  'node-selector': ReservedInstanceAnnotations.nodeSelector,
  'priority-class-name': ReservedInstanceAnnotations.priorityClass,
};

export interface ReservedInstanceSizing {
  cpuRequest: string;
  cpuLimit: string;
  memoryRequest: string;
  memoryLimit: string;
  /** Requests one reserved instance takes at once, before the revision's own containerConcurrency caps it. */
  containerConcurrency: number;
  nodeSelector: Record<string, string>;
  priorityClassName?: string;
}

export interface ReservedInstanceConfig extends ReservedInstanceSizing {
  /** Whether revisions without the annotation keep a reserved instance. */
  enabled: boolean;
}

type SizingInput = { [K in SizingKey]?: z.output<(typeof SIZING)[K]> };

function toSizing(c: SizingInput, base: ReservedInstanceSizing): ReservedInstanceSizing {
  const priorityClassName = c['priority-class-name'] ?? base.priorityClassName;
  return {
    cpuRequest: c['cpu-request'] ?? base.cpuRequest,
    cpuLimit: c['cpu-limit'] ?? base.cpuLimit,
    memoryRequest: c['memory-request'] ?? base.memoryRequest,
    memoryLimit: c['memory-limit'] ?? base.memoryLimit,
    containerConcurrency: c['container-concurrency'] ?? base.containerConcurrency,
    nodeSelector: c['node-selector'] ?? base.nodeSelector,
    ...(priorityClassName ? { priorityClassName } : {}),
  };
}

/** Requests above limits make the pod invalid; each pair is named by the key that set the request. */
function requestsAboveLimits(sizing: ReservedInstanceSizing): { resource: 'cpu' | 'memory'; message: string }[] {
  const pairs = [
    ['cpu', sizing.cpuRequest, sizing.cpuLimit],
    ['memory', sizing.memoryRequest, sizing.memoryLimit],
  ] as const;
  return pairs
    .filter(([, request, limit]) => quantityValue(request)! > quantityValue(limit)!)
    .map(([resource, request, limit]) => ({
      resource,
      message: `${request} must not exceed the ${resource} limit ${limit}`,
    }));
}

const DEFAULT_SIZING: ReservedInstanceSizing = {
  cpuRequest: '25m',
  cpuLimit: '1000m',
  memoryRequest: '64Mi',
  memoryLimit: '256Mi',
  containerConcurrency: 10,
  nodeSelector: {},
};

export const reservedInstanceSchema = z
  .object({
    enabled: boolString.default(false),
    ...(Object.fromEntries(Object.entries(SIZING).map(([key, schema]) => [key, schema.optional()])) as {
      [K in SizingKey]: z.ZodOptional<(typeof SIZING)[K]>;
    }),
  })
  .transform((c, ctx): ReservedInstanceConfig => {
    const sizing = toSizing(c, DEFAULT_SIZING);
    for (const issue of requestsAboveLimits(sizing))
      ctx.addIssue({ code: 'custom', path: [`${issue.resource}-request`], message: issue.message });
    return { enabled: c.enabled, ...sizing };
  });

export const CONFIG_RESERVED_INSTANCE = 'config-reserved-instance';
export const parseReservedInstanceConfig = (
  data?: Record<string, string>,
  report?: ConfigIssueReporter,
): ReservedInstanceConfig => parseConfigMap(CONFIG_RESERVED_INSTANCE, reservedInstanceSchema, data, report);

export interface ReservedInstanceAnnotationValues {
  enabled?: boolean;
  sizing: ReservedInstanceSizing;
}

/**
 * The revision's reserved-instance annotations over the cluster's config. A bad value is reported
 * and left out, so the cluster's value stands in for it.
 */
export function parseReservedInstanceAnnotations(
  annotations: Record<string, string> | undefined,
  config: ReservedInstanceConfig,
): { values: ReservedInstanceAnnotationValues; issues: AnnotationIssue[] } {
  const all = annotations ?? {};
  const issues: AnnotationIssue[] = [];
  const values: ReservedInstanceAnnotationValues = { sizing: config };

  const mode = all[ReservedInstanceAnnotations.mode];
  if (mode !== undefined) {
    const normalized = mode.trim().toLowerCase();
    if (normalized === 'enabled' || normalized === 'disabled') values.enabled = normalized === 'enabled';
    else
      issues.push({
        key: ReservedInstanceAnnotations.mode,
        message: `${JSON.stringify(mode)} must be enabled or disabled`,
      });
  }

  const overrides: Record<string, unknown> = {};
  for (const [key, annotation] of Object.entries(ANNOTATION_OF) as [SizingKey, string][]) {
    const text = all[annotation];
    if (text === undefined) continue;
    const parsed = SIZING[key].safeParse(text);
    if (parsed.success) overrides[key] = parsed.data;
    else {
      const rule = parsed.error.issues[0]?.message ?? 'is invalid';
      issues.push({ key: annotation, message: rule.startsWith('must') ? `${JSON.stringify(text)} ${rule}` : rule });
    }
  }
  values.sizing = toSizing(overrides as SizingInput, config);
  for (const issue of requestsAboveLimits(values.sizing)) {
    const requestKey = `${issue.resource}-request` as const;
    const limitKey = `${issue.resource}-limit` as const;
    // Blame the annotation that made the pair wrong; the ConfigMap itself was checked when parsed.
    const key = overrides[requestKey] !== undefined ? ANNOTATION_OF[requestKey] : ANNOTATION_OF[limitKey];
    issues.push({
      key,
      message: `request ${issue.message} (config-reserved-instance supplies what the annotations leave out)`,
    });
  }
  return { values, issues };
}

/** What the revision reconciler does about a revision's reserved instance. */
export type ReservedInstancePlan =
  | { keep: false; reason: 'disabled' | 'min-scale' }
  | { keep: false; reason: 'invalid'; issues: AnnotationIssue[] }
  | { keep: true; sizing: ReservedInstanceSizing };

/**
 * Enabled by the annotation, else by the cluster; a min-scale of 1 or more keeps standard
 * instances instead. The reserved instance takes no more requests at once than the revision's
 * containerConcurrency allows (0 is unlimited).
 */
export function planReservedInstance(input: {
  annotations: Record<string, string> | undefined;
  config: ReservedInstanceConfig;
  containerConcurrency: number | undefined;
  minScale: number;
}): ReservedInstancePlan {
  const { values, issues } = parseReservedInstanceAnnotations(input.annotations, input.config);
  if (!(values.enabled ?? input.config.enabled)) return { keep: false, reason: 'disabled' };
  if (input.minScale >= 1) return { keep: false, reason: 'min-scale' };
  if (issues.length > 0) return { keep: false, reason: 'invalid', issues };
  const revisionLimit = input.containerConcurrency ?? 0;
  const containerConcurrency =
    revisionLimit > 0
      ? Math.min(revisionLimit, values.sizing.containerConcurrency)
      : values.sizing.containerConcurrency;
  return { keep: true, sizing: { ...values.sizing, containerConcurrency } };
}
