// Knative's "living" condition sets: a happy condition (Ready) that is True only when every
// dependent condition is True (knative.dev/pkg apis/condition_set.go).
import type { Clock } from '../clock.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  severity?: 'Error' | 'Warning' | 'Info' | '';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** Knative duck Status: conditions, the generation they describe, and free-form annotations. */
export interface Status {
  conditions?: Condition[];
  observedGeneration?: number;
  annotations?: Record<string, string>;
}

export interface ConditionManager {
  get(type: string): Condition | undefined;
  isHappy(): boolean;
  initialize(): void;
  markTrue(type: string, reason?: string, message?: string): void;
  markFalse(type: string, reason: string, message: string): void;
  markUnknown(type: string, reason: string, message: string): void;
}

export interface ConditionSet {
  happy: string;
  dependents: readonly string[];
  manage(status: Status, clock: Clock): ConditionManager;
}

const timestamp = (clock: Clock) => new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function livingConditionSet(dependents: readonly string[], happy = 'Ready'): ConditionSet {
  return {
    happy,
    dependents,
    manage(status, clock) {
      const get = (type: string) => status.conditions?.find((c) => c.type === type);
      const isDependent = (type: string) => dependents.includes(type);
      const set = (next: Condition) => {
        const current = get(next.type);
        const severity = next.type === happy || isDependent(next.type) ? undefined : 'Info';
        const same =
          current &&
          current.status === next.status &&
          current.reason === next.reason &&
          current.message === next.message;
        if (same) return;
        const condition: Condition = {
          type: next.type,
          status: next.status,
          ...(severity ? { severity } : {}),
          // The transition time moves only when the status itself changes.
          lastTransitionTime: current && current.status === next.status ? current.lastTransitionTime : timestamp(clock),
          ...(next.reason ? { reason: next.reason } : {}),
          ...(next.message ? { message: next.message } : {}),
        };
        const others = (status.conditions ?? []).filter((c) => c.type !== next.type);
        status.conditions = [...others, condition].sort((a, b) => a.type.localeCompare(b.type));
      };
      const manager: ConditionManager = {
        get,
        isHappy: () => get(happy)?.status === 'True',
        initialize() {
          for (const type of [happy, ...dependents]) if (!get(type)) set({ type, status: 'Unknown' });
        },
        markTrue(type, reason, message) {
          set({ type, status: 'True', ...(reason ? { reason } : {}), ...(message ? { message } : {}) });
          if (!isDependent(type)) return;
          if (dependents.every((d) => get(d)?.status === 'True')) set({ type: happy, status: 'True' });
        },
        markFalse(type, reason, message) {
          set({ type, status: 'False', reason, message });
          if (isDependent(type)) set({ type: happy, status: 'False', reason, message });
        },
        markUnknown(type, reason, message) {
          set({ type, status: 'Unknown', reason, message });
          if (!isDependent(type)) return;
          // A dependent that failed explains Ready better than one that is merely pending.
          const failed = dependents.some((d) => d !== type && get(d)?.status === 'False');
          if (!failed) set({ type: happy, status: 'Unknown', reason, message });
        },
      };
      return manager;
    },
  };
}

export const ServiceConditions = livingConditionSet(['ConfigurationsReady', 'RoutesReady']);
export const ConfigurationConditions = livingConditionSet([]);
export const RevisionConditions = livingConditionSet(['ResourcesAvailable', 'ContainerHealthy']);
export const RouteConditions = livingConditionSet(['AllTrafficAssigned', 'IngressReady', 'CertificateProvisioned']);
export const PodAutoscalerConditions = livingConditionSet(['Active', 'ScaleTargetInitialized', 'SKSReady']);
export const ServerlessServiceConditions = livingConditionSet(['EndpointsPopulated']);
export const CertificateConditions = livingConditionSet([]);
export const IngressConditions = livingConditionSet(['NetworkConfigured', 'LoadBalancerReady']);
export const DomainMappingConditions = livingConditionSet([
  'DomainClaimed',
  'ReferenceResolved',
  'IngressReady',
  'CertificateProvisioned',
]);
