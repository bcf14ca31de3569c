// Rules the CRD schema cannot express because they depend on config-defaults, config-features,
// config-autoscaler or config-reserved-instance, or compare an update with the stored object
// (upstream pkg/apis/serving/v1/*_validation.go, pkg/apis/serving/k8s_validation.go).
import { hasAutoscalingAnnotation, parseAutoscalingAnnotations } from '../../lib/config/autoscalingAnnotations.ts';
import { CLUSTER_DOMAIN } from '../../lib/config/domain.ts';
import { parseGoDuration } from '../../lib/config/duration.ts';
import type { DomainMapping } from '../../lib/apis/domainMapping.ts';
import type { FeatureKey } from '../../lib/config/features.ts';
import { parseReservedInstanceAnnotations } from '../../lib/config/reservedInstance.ts';
import {
  Annotations,
  RESERVED_MOUNT_PATHS,
  type Configuration,
  type Container,
  type Probe,
  type Revision,
  type RevisionSpec,
  type RevisionTemplate,
  type Route,
  type Service,
} from '../../lib/apis/serving.ts';
import { servingContainerOf } from '../../lib/apis/revision.ts';
import { InvalidCanaryAnnotation, parseCanarySpec } from '../route/canary.ts';
import type { WebhookConfig } from './config.ts';
import { posix } from 'node:path';
import { isDeepStrictEqual as isDeepEqual } from 'node:util';

export interface FieldError {
  path: string;
  message: string;
  /** The offending value, for errors Knative words as `invalid value: <value>: <path>` then the rule. */
  value?: string;
  /** For Knative's generic errors, worded `<message>: <path>` as Knative words them: `missing field(s): spec.template`. */
  generic?: true;
}

/** One line per error: `<path>: <rule>`, or Knative's wording when the value is part of it or the error is generic. */
export const formatFieldError = (e: FieldError): string =>
  e.value !== undefined
    ? `invalid value: ${e.value}: ${e.path}\n${e.message}`
    : !e.path
      ? e.message
      : e.generic
        ? `${e.message}: ${e.path}`
        : `${e.path}: ${e.message}`;

type Errors = FieldError[];

/** PodSpec fields that need a config-features flag. */
const GATED_POD_FIELDS: Record<string, FeatureKey> = {
  affinity: 'kubernetes.podspec-affinity',
  topologySpreadConstraints: 'kubernetes.podspec-topologyspreadconstraints',
  hostAliases: 'kubernetes.podspec-hostaliases',
  nodeSelector: 'kubernetes.podspec-nodeselector',
  runtimeClassName: 'kubernetes.podspec-runtimeclassname',
  tolerations: 'kubernetes.podspec-tolerations',
  securityContext: 'kubernetes.podspec-securitycontext',
  shareProcessNamespace: 'kubernetes.podspec-shareprocessnamespace',
  priorityClassName: 'kubernetes.podspec-priorityclassname',
  schedulerName: 'kubernetes.podspec-schedulername',
  initContainers: 'kubernetes.podspec-init-containers',
  dnsPolicy: 'kubernetes.podspec-dnspolicy',
  dnsConfig: 'kubernetes.podspec-dnsconfig',
  hostIPC: 'kubernetes.podspec-hostipc',
  hostPID: 'kubernetes.podspec-hostpid',
  hostNetwork: 'kubernetes.podspec-hostnetwork',
};

const GATED_VOLUME_SOURCES: Record<string, FeatureKey> = {
  emptyDir: 'kubernetes.podspec-volumes-emptydir',
  persistentVolumeClaim: 'kubernetes.podspec-persistent-volume-claim',
  hostPath: 'kubernetes.podspec-volumes-hostpath',
  csi: 'kubernetes.podspec-volumes-csi',
  ephemeral: 'kubernetes.podspec-volumes-ephemeral',
  image: 'kubernetes.podspec-volumes-image',
};

/** Every volume source the revision template's schema admits, ungated ones first. */
const VOLUME_SOURCES = ['secret', 'configMap', 'projected', ...Object.keys(GATED_VOLUME_SOURCES)];

const DNS1123_LABEL_FORMAT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FORMAT = `${DNS1123_LABEL_FORMAT}(\\.${DNS1123_LABEL_FORMAT})*`;
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_SUBDOMAIN_FORMAT}$`);
const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

/** What is wrong with a name that must be a DNS-1123 subdomain, in Kubernetes' own words
 *  (k8s.io/apimachinery IsDNS1123Subdomain), which Knative's messages carry. */
function dns1123SubdomainProblems(value: string): string[] {
  const problems: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX_LENGTH)
    problems.push(`must be no more than ${DNS1123_SUBDOMAIN_MAX_LENGTH} characters`);
  if (!DNS1123_SUBDOMAIN.test(value)) {
    problems.push(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must " +
        `start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN_FORMAT}')`,
    );
  }
  return problems;
}

/** The path as Go's path.Clean writes it, which is what Knative compares: `/data/` and `/data` are one. */
function cleanPath(path: string): string {
  const normalized = posix.normalize(path);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

function gated(config: WebhookConfig, feature: FeatureKey, path: string, errors: Errors): void {
  if (config.features[feature] === 'Disabled') {
    errors.push({
      path,
      message: `must not be set: the feature is off (set ${feature}: enabled in ConfigMap config-features)`,
    });
  }
}

export function validateRevisionSpec(spec: RevisionSpec, path: string, config: WebhookConfig): Errors {
  const errors: Errors = [];
  const { defaults } = config;

  const cc = spec.containerConcurrency;
  if (cc !== undefined) {
    const min = defaults.allowContainerConcurrencyZero ? 0 : 1;
    if (cc < min || cc > defaults.containerConcurrencyMaxLimit) {
      errors.push({
        path: `${path}.containerConcurrency`,
        message: `${cc} is out of range: must be between ${min} and ${defaults.containerConcurrencyMaxLimit} (config-defaults container-concurrency-max-limit)`,
      });
    }
  }
  const timeout = spec.timeoutSeconds;
  if (timeout !== undefined && (timeout < 0 || timeout > defaults.maxRevisionTimeoutSeconds)) {
    errors.push({
      path: `${path}.timeoutSeconds`,
      message: `${timeout} is out of range: must be between 0 and ${defaults.maxRevisionTimeoutSeconds} (config-defaults max-revision-timeout-seconds)`,
    });
  }
  const limit = timeout ?? defaults.maxRevisionTimeoutSeconds;
  for (const field of ['responseStartTimeoutSeconds', 'idleTimeoutSeconds'] as const) {
    const value = spec[field];
    if (value !== undefined && (value < 0 || value > limit)) {
      errors.push({
        path: `${path}.${field}`,
        message: `${value} is out of range: must be between 0 and timeoutSeconds (${limit})`,
      });
    }
  }

  for (const [field, feature] of Object.entries(GATED_POD_FIELDS)) {
    if ((spec as unknown as Record<string, unknown>)[field] !== undefined)
      gated(config, feature, `${path}.${field}`, errors);
  }
  if (spec.containers.length > 1 && config.features['multi-container'] === 'Disabled') {
    errors.push({
      path: `${path}.containers`,
      message: 'only one container is allowed: multi-container is off in ConfigMap config-features',
    });
  }
  const account = spec.serviceAccountName;
  if (account) {
    for (const problem of dns1123SubdomainProblems(account)) {
      errors.push({ path: `${path}.serviceAccountName`, value: account, message: problem });
    }
  }

  const names = new Map<string, string>();
  const all: [Container, string][] = [
    ...spec.containers.map((c, i): [Container, string] => [c, `${path}.containers[${i}]`]),
    ...((spec.initContainers ?? []) as Container[]).map((c, i): [Container, string] => [
      c,
      `${path}.initContainers[${i}]`,
    ]),
  ];
  for (const [container, containerPath] of all) {
    if (!container.name) continue;
    const first = names.get(container.name);
    if (first)
      errors.push({
        path: `${containerPath}.name`,
        message: `${JSON.stringify(container.name)} is already the name of ${first}`,
      });
    else names.set(container.name, containerPath);
  }

  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  const mounted = new Set<string>();
  const volumeNames = new Set<string>();
  (spec.volumes ?? []).forEach((volume, i) => {
    const volumePath = `${path}.volumes[${i}]`;
    if (volumeNames.has(volume.name))
      errors.push({
        path: `${volumePath}.name`,
        message: `${JSON.stringify(volume.name)} is already the name of another volume`,
      });
    volumeNames.add(volume.name);
    const fields = volume as unknown as Record<string, unknown>;
    for (const [source, feature] of Object.entries(GATED_VOLUME_SOURCES)) {
      if (fields[source] !== undefined) gated(config, feature, `${volumePath}.${source}`, errors);
    }
    // Which sources may appear depends on config-features, so this is checked here, not in CEL.
    const sources = VOLUME_SOURCES.filter((source) => fields[source] !== undefined);
    if (sources.length !== 1) {
      const allowed = VOLUME_SOURCES.filter(
        (source) => !(source in GATED_VOLUME_SOURCES) || config.features[GATED_VOLUME_SOURCES[source]!] !== 'Disabled',
      );
      errors.push({
        path: volumePath,
        message: `exactly one of ${allowed.join(', ')} must be set, ${sources.length === 0 ? 'found none' : `found ${sources.join(' and ')}`}`,
      });
    }
  });
  for (const [container, containerPath] of all) {
    const mountPaths = new Set<string>();
    (container.volumeMounts ?? []).forEach((mount, j) => {
      const mountPath = `${containerPath}.volumeMounts[${j}]`;
      const cleaned = cleanPath(mount.mountPath);
      // The schema refuses the reserved paths as written; Knative compares them cleaned too.
      if (cleaned !== mount.mountPath && RESERVED_MOUNT_PATHS.includes(cleaned)) {
        errors.push({
          path: `${mountPath}.mountPath`,
          message: `${JSON.stringify(mount.mountPath)} is ${cleaned}: mountPath may not be one of ${RESERVED_MOUNT_PATHS.join(', ')}`,
        });
      }
      if (mountPaths.has(cleaned))
        errors.push({
          path: `${mountPath}.mountPath`,
          message: `${JSON.stringify(mount.mountPath)} is mounted twice: each mountPath must be unique`,
        });
      mountPaths.add(cleaned);
      const volume = volumes.get(mount.name);
      if (!volume) {
        errors.push({
          path: `${mountPath}.name`,
          message: `no volume named ${JSON.stringify(mount.name)} in ${path}.volumes`,
        });
        return;
      }
      mounted.add(mount.name);
      if (mount.mountPropagation !== undefined)
        gated(config, 'kubernetes.podspec-volumes-mount-propagation', `${mountPath}.mountPropagation`, errors);
      if (
        volume.persistentVolumeClaim &&
        mount.readOnly === false &&
        config.features['kubernetes.podspec-persistent-volume-write'] === 'Disabled'
      ) {
        errors.push({
          path: `${mountPath}.readOnly`,
          message:
            'must be true: writing to a PersistentVolumeClaim needs kubernetes.podspec-persistent-volume-write: enabled in ConfigMap config-features',
        });
      }
    });
    (container.env ?? []).forEach((env, j) => {
      const source = env.valueFrom as Record<string, unknown> | undefined;
      for (const field of ['fieldRef', 'resourceFieldRef']) {
        if (source?.[field] !== undefined)
          gated(config, 'kubernetes.podspec-fieldref', `${containerPath}.env[${j}].valueFrom.${field}`, errors);
      }
    });
    const capabilities = (container.securityContext as { capabilities?: { add?: unknown[] } } | undefined)
      ?.capabilities;
    if (capabilities?.add?.length) {
      gated(
        config,
        'kubernetes.containerspec-addcapabilities',
        `${containerPath}.securityContext.capabilities.add`,
        errors,
      );
    }
  }
  (spec.volumes ?? []).forEach((volume, i) => {
    if (!mounted.has(volume.name))
      errors.push({
        path: `${path}.volumes[${i}].name`,
        message: `volume ${JSON.stringify(volume.name)} is not mounted by any container`,
      });
  });

  const serving = servingContainerOf(spec);
  if (serving)
    errors.push(...validateServingProbes(serving, `${path}.containers[${spec.containers.indexOf(serving)}]`));
  spec.containers.forEach((container, i) => {
    if (container !== serving) errors.push(...validateSidecarProbes(container, `${path}.containers[${i}]`, config));
  });
  return errors;
}

/**
 * Probes of a container without a port (upstream validateSidecarContainer): refused unless
 * multi-container-probing is on, and then they must name their port, as there is no serving port
 * to fall back on.
 */
function validateSidecarProbes(container: Container, containerPath: string, config: WebhookConfig): Errors {
  const errors: Errors = [];
  for (const kind of ['readinessProbe', 'livenessProbe'] as const) {
    const probe = container[kind];
    if (!probe) continue;
    const probePath = `${containerPath}.${kind}`;
    if (config.features['multi-container-probing'] === 'Disabled') {
      gated(config, 'multi-container-probing', probePath, errors);
      continue;
    }
    for (const action of ['httpGet', 'tcpSocket'] as const) {
      const port = probe[action]?.port;
      if (probe[action] && (port === undefined || port === 0 || port === '')) {
        errors.push({
          path: `${probePath}.${action}.port`,
          message: 'must be set: a container without a port has no serving port to probe by default',
        });
      }
    }
  }
  return errors;
}

const PROBE_ACTIONS = ['httpGet', 'tcpSocket', 'exec', 'grpc'] as const;

/**
 * The serving container's probes (upstream ValidateUserContainer): one action each; a port given
 * by name must name the container's port (`http` when it has none), while a number is accepted
 * because the probe always runs against the serving port; and for readiness, periodSeconds 0 means
 * Knative's own aggressive probing, which takes no timeoutSeconds or failureThreshold.
 */
function validateServingProbes(container: Container, containerPath: string): Errors {
  const errors: Errors = [];
  const portName = container.ports?.[0]?.name || 'http';
  for (const kind of ['readinessProbe', 'livenessProbe'] as const) {
    const probe = container[kind];
    if (!probe) continue;
    const probePath = `${containerPath}.${kind}`;
    const actions = PROBE_ACTIONS.filter((action) => probe[action] !== undefined);
    if (actions.length !== 1) {
      errors.push({
        path: probePath,
        message: `exactly one of ${PROBE_ACTIONS.join(', ')} must be set, ${actions.length === 0 ? 'found none' : `found ${actions.join(' and ')}`}`,
      });
    }
    for (const action of ['httpGet', 'tcpSocket'] as const) {
      const port = probe[action]?.port;
      if (typeof port === 'string' && port !== '' && port !== portName) {
        errors.push({
          path: `${probePath}.${action}.port`,
          message: `${JSON.stringify(port)} must be the name of the container port, ${JSON.stringify(portName)}`,
        });
      }
    }
    if (kind === 'readinessProbe') errors.push(...readinessTimingErrors(probe, probePath));
  }
  return errors;
}

function readinessTimingErrors(probe: Probe, path: string): Errors {
  const errors: Errors = [];
  // Values left out were defaulted (successThreshold 1; with a period, timeoutSeconds 1 and failureThreshold 3).
  const atLeast = (
    field: 'periodSeconds' | 'initialDelaySeconds' | 'successThreshold' | 'timeoutSeconds' | 'failureThreshold',
    min: number,
  ) => {
    const value = probe[field];
    if (value !== undefined && value < min)
      errors.push({ path: `${path}.${field}`, message: `${value} is out of range: must be at least ${min}` });
  };
  atLeast('periodSeconds', 0);
  atLeast('initialDelaySeconds', 0);
  atLeast('successThreshold', 1);
  if (!probe.periodSeconds) {
    for (const field of ['failureThreshold', 'timeoutSeconds'] as const) {
      if (probe[field]) {
        errors.push({
          path: `${path}.${field}`,
          message: 'must not be set when periodSeconds is 0 (aggressive probing, with its own timeout and retries)',
        });
      }
    }
  } else {
    atLeast('timeoutSeconds', 1);
    atLeast('failureThreshold', 1);
  }
  return errors;
}

/** Autoscaling and reserved-instance annotations of a revision, at path (its metadata). */
function validateRevisionAnnotations(
  annotations: Record<string, string> | undefined,
  path: string,
  config: WebhookConfig,
): Errors {
  const issues = [
    ...parseAutoscalingAnnotations(annotations, config.autoscaler).issues,
    // A min-scale of 1 or more is no conflict: it keeps standard instances instead of a reserved one.
    ...parseReservedInstanceAnnotations(annotations, config.reservedInstance).issues,
  ];
  return issues.map((issue) => ({ path: `${path}.annotations[${issue.key}]`, message: issue.message }));
}

function validateTemplateMetadata(template: RevisionTemplate, path: string, config: WebhookConfig): Errors {
  const annotations = template.metadata?.annotations;
  const errors = validateRevisionAnnotations(annotations, `${path}.metadata`, config);
  const deadline = annotations?.[Annotations.progressDeadline];
  if (deadline !== undefined)
    durationAnnotation(deadline, `${path}.metadata.annotations[${Annotations.progressDeadline}]`, errors);
  return errors;
}

function durationAnnotation(value: string, path: string, errors: Errors): void {
  const ms = parseGoDuration(value.trim());
  if (ms === undefined) errors.push({ path, message: `${JSON.stringify(value)} is not a duration such as "120s"` });
  else if (ms < 0) errors.push({ path, message: `${value} must not be negative` });
  else if (ms % 1000 !== 0) errors.push({ path, message: `${value} must be a whole number of seconds` });
}

interface ObjectMeta {
  name?: string;
  generateName?: string;
  annotations?: Record<string, string>;
}

/** Autoscaling annotations belong on the revision template, where they take effect. */
function validateTopLevelMetadata(metadata: ObjectMeta | undefined, withRollout: boolean): Errors {
  const errors: Errors = [];
  const misplaced = hasAutoscalingAnnotation(metadata?.annotations);
  if (misplaced) {
    errors.push({
      path: `metadata.annotations[${misplaced}]`,
      message: 'autoscaling annotations are only allowed on spec.template.metadata.annotations',
    });
  }
  if (withRollout) {
    for (const key of [Annotations.rolloutDuration, Annotations.rolloutDurationLegacy]) {
      const value = metadata?.annotations?.[key];
      if (value !== undefined) durationAnnotation(value, `metadata.annotations[${key}]`, errors);
    }
    try {
      parseCanarySpec(metadata?.annotations);
    } catch (error) {
      if (!(error instanceof InvalidCanaryAnnotation)) throw error;
      errors.push({
        path: `metadata.annotations[${error.annotation}]`,
        message: `${JSON.stringify(error.value)} ${error.rule}`,
      });
    }
  }
  return errors;
}

function validateTemplate(
  template: RevisionTemplate | undefined,
  oldTemplate: RevisionTemplate | undefined,
  metadata: ObjectMeta | undefined,
  config: WebhookConfig,
): Errors {
  if (!template) return [];
  const errors = validateTemplateMetadata(template, 'spec.template', config);
  if (template.spec) errors.push(...validateRevisionSpec(template.spec, 'spec.template.spec', config));
  const name = template.metadata?.name;
  if (name && metadata?.generateName) {
    errors.push({
      path: 'spec.template.metadata.name',
      message: 'a revision name may not be given when the parent uses generateName',
    });
  }
  if (oldTemplate && name && name === oldTemplate.metadata?.name && !isDeepEqual(oldTemplate, template)) {
    errors.push({
      path: 'spec.template.metadata.name',
      message: `the template changed but its revision name ${JSON.stringify(name)} did not: a revision is immutable, so give the new template a new name`,
    });
  }
  return errors;
}

export function validateService(svc: Service, old: Service | undefined, config: WebhookConfig): Errors {
  return [
    ...validateTopLevelMetadata(svc.metadata, true),
    ...validateTemplate(svc.spec?.template, old?.spec?.template, svc.metadata, config),
  ];
}

export function validateConfiguration(
  cfg: Configuration,
  old: Configuration | undefined,
  config: WebhookConfig,
): Errors {
  return [
    ...validateTopLevelMetadata(cfg.metadata, false),
    ...validateTemplate(
      cfg.spec?.template as RevisionTemplate | undefined,
      old?.spec?.template as RevisionTemplate | undefined,
      cfg.metadata,
      config,
    ),
  ];
}

export function validateRevision(rev: Revision, config: WebhookConfig): Errors {
  const errors = validateRevisionAnnotations(rev.metadata?.annotations, 'metadata', config);
  if (rev.spec) errors.push(...validateRevisionSpec(rev.spec as RevisionSpec, 'spec', config));
  return errors;
}

export function validateRoute(route: Route): Errors {
  return validateTopLevelMetadata(route.metadata, true);
}

/**
 * What the CRD's CEL cannot check: CEL sees neither the cluster domain nor metadata.namespace
 * (upstream v1beta1/domainmapping_validation.go, KReference.Validate).
 */
export function validateDomainMapping(dm: DomainMapping, clusterDomain = CLUSTER_DOMAIN): Errors {
  const errors: Errors = [];
  const name = dm.metadata?.name ?? '';
  if (name.endsWith(`.${clusterDomain}`)) {
    errors.push({
      path: 'metadata.name',
      message: `invalid name ${JSON.stringify(name)}: must not be a subdomain of cluster local domain ${JSON.stringify(clusterDomain)}`,
    });
  }
  const parent = dm.metadata?.namespace;
  const refNamespace = dm.spec?.ref?.namespace;
  if (parent && refNamespace && refNamespace !== parent) {
    errors.push({
      path: 'spec.ref.namespace',
      message: `mismatched namespaces: parent namespace: ${JSON.stringify(parent)} does not match ref: ${JSON.stringify(refNamespace)}`,
    });
  }
  return errors;
}
