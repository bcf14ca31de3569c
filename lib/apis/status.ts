// Status shapes the reconcilers write (lib/apis/serving.ts types each kind with them). The
// generated model types describe status loosely (conditions with free-form strings); these match
// what our condition sets produce.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { Condition, Status } from './conditions.ts';

export interface TrafficStatus {
  tag?: string;
  revisionName?: string;
  configurationName?: string;
  latestRevision?: boolean;
  percent?: number;
  url?: string;
}

export interface ConfigurationStatus extends Status {
  latestCreatedRevisionName?: string;
  latestReadyRevisionName?: string;
}

export interface RouteStatus extends Status {
  url?: string;
  address?: { url?: string };
  traffic?: TrafficStatus[];
}

export interface ServiceStatus extends ConfigurationStatus, RouteStatus {}

/** A container of the revision and the digest its image resolved to; empty when not resolved. */
export interface ContainerStatus {
  name?: string;
  imageDigest?: string;
}

export interface RevisionStatus extends Status {
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
  actualReplicas?: number;
  desiredReplicas?: number;
}

export interface PodAutoscalerStatus extends Status {
  serviceName?: string;
  metricsServiceName?: string;
  desiredScale?: number;
  actualScale?: number;
}

/**
 * Typed like client-node's KubernetesObject (its metadata, apiVersion and kind optional), so
 * these objects go through the same informers and clients as core kinds.
 */
export type WithStatus<T, S> = Omit<T, 'status' | 'metadata' | 'apiVersion' | 'kind'> & {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  status?: S;
};

export function conditionOf(status: Status | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** Knative's IsReady: Ready is True and the status describes the current generation. */
export function isReady(object: { metadata?: { generation?: number }; status?: Status }): boolean {
  return (
    conditionOf(object.status, 'Ready')?.status === 'True' &&
    object.status?.observedGeneration === object.metadata?.generation
  );
}

export function isFailed(object: { metadata?: { generation?: number }; status?: Status }): boolean {
  return (
    conditionOf(object.status, 'Ready')?.status === 'False' &&
    object.status?.observedGeneration === object.metadata?.generation
  );
}
