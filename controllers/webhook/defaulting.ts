// Knative's defaults, applied by the mutating webhook (upstream pkg/apis/serving/v1/*_defaults.go).
import { containerName } from '../../lib/config/defaults.ts';
import type { DomainMapping } from '../../lib/apis/domainMapping.ts';
import {
  Annotations,
  type Configuration,
  type Container,
  type Revision,
  type RevisionSpec,
  type RevisionTemplate,
  type Route,
  type Service,
  type TrafficTarget,
} from '../../lib/apis/serving.ts';
import type { WebhookConfig } from './config.ts';
import { isDeepStrictEqual as isDeepEqual } from 'node:util';

export interface AdmissionContext {
  operation: 'CREATE' | 'UPDATE';
  username: string;
  config: WebhookConfig;
}

interface Meta {
  name?: string;
  namespace?: string;
  generateName?: string;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; controller?: boolean }[];
}

export function defaultRevisionSpec(spec: RevisionSpec, parent: Meta, ctx: AdmissionContext): void {
  const { defaults, features } = ctx.config;
  if (!spec.timeoutSeconds) spec.timeoutSeconds = defaults.revisionTimeoutSeconds;
  if (
    spec.idleTimeoutSeconds === undefined &&
    defaults.revisionIdleTimeoutSeconds !== 0 &&
    defaults.revisionIdleTimeoutSeconds < spec.timeoutSeconds
  ) {
    spec.idleTimeoutSeconds = defaults.revisionIdleTimeoutSeconds;
  }
  if (
    spec.responseStartTimeoutSeconds === undefined &&
    defaults.revisionResponseStartTimeoutSeconds !== 0 &&
    defaults.revisionResponseStartTimeoutSeconds < spec.timeoutSeconds
  ) {
    spec.responseStartTimeoutSeconds = defaults.revisionResponseStartTimeoutSeconds;
  }
  spec.containerConcurrency ??= defaults.containerConcurrency;

  const taken = new Set([...spec.containers, ...(spec.initContainers ?? [])].map((c) => c.name).filter(Boolean));
  nameContainers(spec.containers, taken, containerName(defaults.containerNameTemplate, parent));
  if (spec.initContainers)
    nameContainers(
      spec.initContainers as Container[],
      taken,
      containerName(defaults.initContainerNameTemplate, parent),
    );

  const writableVolumes = new Set(
    (spec.volumes ?? []).filter((v) => v.emptyDir || v.persistentVolumeClaim || v.ephemeral).map((v) => v.name),
  );
  for (const container of spec.containers) {
    applyResourceDefaults(container, ctx);
    if (spec.containers.length === 1 || (container.ports?.length ?? 0) > 0) {
      container.readinessProbe ??= {};
      const probe = container.readinessProbe;
      if (!probe.tcpSocket && !probe.httpGet && !probe.exec && !probe.grpc) probe.tcpSocket = { port: 0 };
    }
    const probe = container.readinessProbe;
    if (probe) {
      if (!probe.successThreshold) probe.successThreshold = 1;
      if (probe.periodSeconds) {
        if (!probe.failureThreshold) probe.failureThreshold = 3;
        if (!probe.timeoutSeconds) probe.timeoutSeconds = 1;
      }
    }
    for (const p of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
      if (p?.grpc && p.grpc.service === undefined) p.grpc.service = '';
    }
    for (const mount of container.volumeMounts ?? []) {
      if (!writableVolumes.has(mount.name)) mount.readOnly = true;
    }
  }
  for (const container of [...spec.containers, ...((spec.initContainers ?? []) as Container[])])
    writeGoZeroValues(container);
  if (
    ctx.operation === 'CREATE' &&
    spec.enableServiceLinks === undefined &&
    ctx.config.defaults.enableServiceLinks !== undefined
  ) {
    spec.enableServiceLinks = ctx.config.defaults.enableServiceLinks;
  }
  const securePodDefaults = features['secure-pod-defaults'];
  if (securePodDefaults === 'Enabled' || securePodDefaults === 'AllowRootBounded')
    applySecurePodDefaults(spec, securePodDefaults === 'Enabled');
}

/**
 * A Go client (client-go, and the tools and tests built on it) reads an object into typed structs
 * and writes every field that is not `omitempty` even when it is zero: a container's `resources`
 * (a struct, so always written) and a probe action's `port`. Storing those fields the way Go
 * writes them keeps a get-modify-update from a Go client from changing the spec, which would bump
 * the generation and stamp out a Revision for a change that only touched traffic or metadata.
 */
function writeGoZeroValues(container: Container): void {
  container.resources ??= {};
  for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
    if (probe?.tcpSocket) probe.tcpSocket.port ??= 0;
    if (probe?.httpGet) probe.httpGet.port ??= 0;
    if (probe?.grpc) probe.grpc.port ??= 0;
  }
}

/** Unnamed containers get the template name, with -0, -1, ... when several share it. */
function nameContainers(containers: { name?: string }[], taken: Set<string | undefined>, base: string): void {
  let suffix = 0;
  for (const container of containers) {
    if (container.name) continue;
    let name = base;
    if (containers.length > 1 || taken.has(name)) {
      do {
        name = `${base}-${suffix++}`;
      } while (taken.has(name));
    }
    taken.add(name);
    container.name = name;
  }
}

function applyResourceDefaults(container: Container, ctx: AdmissionContext): void {
  const { requests, limits } = ctx.config.defaults.resources;
  if (Object.keys(requests).length === 0 && Object.keys(limits).length === 0) return;
  const resources = (container.resources ??= {}) as {
    requests?: Record<string, string | number>;
    limits?: Record<string, string | number>;
  };
  for (const [name, value] of Object.entries(requests)) (resources.requests ??= {})[name] ??= value;
  for (const [name, value] of Object.entries(limits)) (resources.limits ??= {})[name] ??= value;
}

/** AllowRootBounded (requireNonRoot false) leaves runAsNonRoot to the image, for images that run as root. */
function applySecurePodDefaults(spec: RevisionSpec, requireNonRoot: boolean): void {
  for (const container of [...spec.containers, ...((spec.initContainers ?? []) as Container[])]) {
    const sc = (container.securityContext ??= {}) as Record<string, unknown>;
    sc.allowPrivilegeEscalation ??= false;
    sc.seccompProfile ??= { type: 'RuntimeDefault' };
    const capabilities = (sc.capabilities ??= {}) as { drop?: string[] };
    capabilities.drop ??= ['ALL'];
    if (requireNonRoot) sc.runAsNonRoot ??= true;
  }
}

function defaultTemplate(
  template: RevisionTemplate,
  parent: Meta,
  oldTemplate: RevisionTemplate | undefined,
  ctx: AdmissionContext,
): void {
  // A Go client always writes the template's ObjectMeta (a struct); its creationTimestamp: null
  // is dropped by the API server, which leaves `metadata: {}`.
  template.metadata ??= {};
  // A bring-your-own revision name that did not change keeps the template exactly as the
  // existing revision has it, so defaulting cannot make it look modified.
  const name = template.metadata?.name;
  if (ctx.operation === 'UPDATE' && name && name === oldTemplate?.metadata?.name) return;
  if (template.spec) defaultRevisionSpec(template.spec, parent, ctx);
}

function defaultTraffic(traffic: TrafficTarget[]): void {
  for (const target of traffic) {
    target.latestRevision ??= !target.revisionName;
    target.percent ??= 0;
  }
}

/** creator on create; lastModifier whenever the spec changes (upstream SetUserInfo). */
function setUserInfo(
  obj: { metadata?: Meta; spec?: unknown },
  old: { spec?: unknown } | undefined,
  ctx: AdmissionContext,
): void {
  const metadata = (obj.metadata ??= {});
  const annotations = (metadata.annotations ??= {});
  if (ctx.operation === 'CREATE') {
    annotations[Annotations.creator] = ctx.username;
    annotations[Annotations.lastModifier] = ctx.username;
  } else if (old && !isDeepEqual(old.spec, obj.spec)) {
    annotations[Annotations.lastModifier] = ctx.username;
  }
}

const ownedByService = (metadata: Meta | undefined) =>
  (metadata?.ownerReferences ?? []).some((ref) => ref.controller && ref.kind === 'Service');

export function defaultService(svc: Service, old: Service | undefined, ctx: AdmissionContext): Service {
  const out = structuredClone(svc);
  const spec = (out.spec ??= {});
  if (spec.template) defaultTemplate(spec.template, out.metadata ?? {}, old?.spec?.template, ctx);
  if (!spec.traffic || spec.traffic.length === 0) spec.traffic = [{ percent: 100, latestRevision: true }];
  defaultTraffic(spec.traffic);
  setUserInfo(out, old, ctx);
  return out;
}

export function defaultConfiguration(
  cfg: Configuration,
  old: Configuration | undefined,
  ctx: AdmissionContext,
): Configuration {
  const out = structuredClone(cfg);
  if (out.spec?.template)
    defaultTemplate(
      out.spec.template as RevisionTemplate,
      out.metadata ?? {},
      old?.spec?.template as RevisionTemplate | undefined,
      ctx,
    );
  if (!ownedByService(out.metadata)) setUserInfo(out, old, ctx);
  return out;
}

export function defaultRevision(rev: Revision, ctx: AdmissionContext): Revision {
  const out = structuredClone(rev);
  // A revision is immutable: defaults are applied once, when it is created.
  if (ctx.operation === 'CREATE' && out.spec) defaultRevisionSpec(out.spec as RevisionSpec, out.metadata ?? {}, ctx);
  return out;
}

export function defaultRoute(route: Route, old: Route | undefined, ctx: AdmissionContext): Route {
  const out = structuredClone(route);
  if (out.spec?.traffic) defaultTraffic(out.spec.traffic as TrafficTarget[]);
  if (!ownedByService(out.metadata)) setUserInfo(out, old, ctx);
  return out;
}

/** A reference without namespace means the DomainMapping's own (upstream KReference.SetDefaults). */
export function defaultDomainMapping(
  dm: DomainMapping,
  old: DomainMapping | undefined,
  ctx: AdmissionContext,
): DomainMapping {
  const out = structuredClone(dm);
  if (out.spec?.ref && !out.spec.ref.namespace && out.metadata?.namespace)
    out.spec.ref.namespace = out.metadata.namespace;
  setUserInfo(out, old, ctx);
  return out;
}
