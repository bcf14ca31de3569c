// The Services and Endpoints a ServerlessService stands for (upstream
// pkg/reconciler/serverlessservice/resources/services.go): a private Service selecting the
// revision's pods, and a selector-less public Service whose Endpoints this controller writes —
// the pods in Serve mode, a few activators in Proxy mode. Pure.
import { createHash } from 'node:crypto';
import type {
  V1EndpointAddress,
  V1Endpoints,
  V1EndpointSubset,
  V1ObjectMeta,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node';
import type { Condition, Status } from '../../lib/apis/conditions.ts';
import { childName, controllerReference } from '../../lib/apis/kmeta.ts';
import { Labels } from '../../lib/apis/serving.ts';
import { QueuePortNames, QueuePorts } from '../../lib/hop.ts';

export const SKS_API_VERSION = 'networking.internal.knative.dev/v1alpha1';
export const SKS_LABEL = 'networking.internal.knative.dev/serverlessservice';
export const ACTIVATOR_SERVICE = 'activator-service';

export type SksMode = 'Serve' | 'Proxy';
export type ProtocolType = 'http1' | 'h2c';

export interface ServerlessServiceStatus extends Status {
  serviceName?: string;
  privateServiceName?: string;
}

export interface ServerlessService {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec: {
    mode?: SksMode;
    objectRef: { apiVersion?: string; kind?: string; name?: string };
    protocolType: ProtocolType;
    numActivators?: number;
  };
  status?: ServerlessServiceStatus;
}

/** Ports of the queue-proxy (Knative's pkg/networking constants). */
export const BackendPorts = {
  http: QueuePorts.http1,
  http2: QueuePorts.h2c,
  https: QueuePorts.https,
  autoscalerMetrics: QueuePorts.autoscalerMetrics,
  userMetrics: QueuePorts.userMetrics,
} as const;

export const privateServiceName = (sks: string) => childName(sks, '-private');

const backendPort = (protocol: ProtocolType) => (protocol === 'h2c' ? BackendPorts.http2 : BackendPorts.http);
const portName = (protocol: ProtocolType) => (protocol === 'h2c' ? QueuePortNames.h2c : QueuePortNames.http1);
const appProtocol = (protocol: ProtocolType) => (protocol === 'h2c' ? { appProtocol: 'kubernetes.io/h2c' } : {});

function childMeta(sks: ServerlessService, name: string, serviceType: 'Public' | 'Private'): V1ObjectMeta {
  return {
    name,
    namespace: sks.metadata?.namespace,
    labels: { ...sks.metadata?.labels, [SKS_LABEL]: sks.metadata?.name ?? '', [Labels.serviceType]: serviceType },
    annotations: { ...sks.metadata?.annotations },
    ownerReferences: [controllerReference(sks)],
  };
}

function httpsPort(): V1ServicePort {
  return { name: 'https', protocol: 'TCP', port: 443, targetPort: BackendPorts.https as never };
}

/** The ports of a Service that selects queue-proxies directly: serving, TLS and metrics. */
export function podServicePorts(protocol: ProtocolType): V1ServicePort[] {
  const target = backendPort(protocol);
  return [
    { name: portName(protocol), protocol: 'TCP', ...appProtocol(protocol), port: 80, targetPort: target as never },
    httpsPort(),
    {
      name: 'http-autometric',
      protocol: 'TCP',
      port: BackendPorts.autoscalerMetrics,
      targetPort: 'http-autometric' as never,
    },
    {
      name: 'http-usermetric',
      protocol: 'TCP',
      port: BackendPorts.userMetrics,
      targetPort: 'http-usermetric' as never,
    },
    // Meshes that route by the Service port need one equal to the container port.
    { name: `${portName(protocol)}-istio`, protocol: 'TCP', port: target, targetPort: target as never },
  ];
}

/** Selects the revision's pods by the scale target's own selector. */
export function makePrivateService(sks: ServerlessService, selector: Record<string, string>): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(sks, privateServiceName(sks.metadata?.name ?? ''), 'Private'),
    spec: { ports: podServicePorts(sks.spec.protocolType), selector },
  };
}

/** No selector: its Endpoints are written by the reconciler, so traffic can be switched. */
export function makePublicService(sks: ServerlessService): V1Service {
  const protocol = sks.spec.protocolType;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(sks, sks.metadata?.name ?? '', 'Public'),
    spec: {
      ports: [
        {
          name: portName(protocol),
          protocol: 'TCP',
          ...appProtocol(protocol),
          port: protocol === 'h2c' ? 81 : 80,
          targetPort: backendPort(protocol) as never,
        },
        httpsPort(),
      ],
    },
  };
}

export function makePublicEndpoints(sks: ServerlessService, source: V1Endpoints): V1Endpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: childMeta(sks, sks.metadata?.name ?? '', 'Public'),
    subsets: filterSubsetPorts(sks.spec.protocolType, source.subsets ?? []),
  };
}

/** Only the serving port the public Service targets, and TLS, reach the revision. */
export function filterSubsetPorts(protocol: ProtocolType, subsets: readonly V1EndpointSubset[]): V1EndpointSubset[] {
  const keep = new Set<number>([backendPort(protocol), BackendPorts.https]);
  return subsets.map((subset) => ({ ...subset, ports: (subset.ports ?? []).filter((p) => keep.has(p.port)) }));
}

export function readyAddressCount(endpoints: V1Endpoints | undefined): number {
  return (endpoints?.subsets ?? []).reduce((n, subset) => n + (subset.addresses?.length ?? 0), 0);
}

/**
 * The endpoints limited to n activators picked by rendezvous hashing on the SKS name: each
 * revision keeps the same activators while others come and go, and revisions spread evenly.
 */
export function subsetEndpoints(endpoints: V1Endpoints, sksName: string, n: number): V1Endpoints {
  const ips = new Set((endpoints.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)));
  if (n <= 0 || ips.size <= n) return endpoints;
  const chosen = new Set(chooseSubset([...ips], n, sksName));
  const keep = (a: V1EndpointAddress) => chosen.has(a.ip);
  return {
    ...endpoints,
    subsets: (endpoints.subsets ?? [])
      .map((s) => ({ ...s, addresses: (s.addresses ?? []).filter(keep) }))
      .filter((s) => s.addresses.length > 0),
  };
}

export function chooseSubset(candidates: readonly string[], n: number, target: string): string[] {
  const weight = (candidate: string) =>
    createHash('sha256').update(`${target}\u0000${candidate}`).digest().readBigUInt64BE(0);
  return [...candidates]
    .map((candidate) => ({ candidate, weight: weight(candidate) }))
    .sort((a, b) => (a.weight === b.weight ? a.candidate.localeCompare(b.candidate) : a.weight > b.weight ? -1 : 1))
    .slice(0, n)
    .map((c) => c.candidate);
}

export function sksCondition(sks: ServerlessService | undefined, type: string): Condition | undefined {
  return sks?.status?.conditions?.find((c) => c.type === type);
}

/** Knative's IsReady for an SKS: Ready True for the current generation. */
export function isSksReady(sks: ServerlessService | undefined): boolean {
  return sksCondition(sks, 'Ready')?.status === 'True' && sks?.status?.observedGeneration === sks?.metadata?.generation;
}
