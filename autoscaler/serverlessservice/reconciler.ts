// The ServerlessService reconciler (upstream pkg/reconciler/serverlessservice/serverlessservice.go):
// private Service, then public Service, then the public Endpoints — the pods' in Serve mode,
// the activators' in Proxy mode — and the SKS status.
import type { V1Deployment, V1Endpoints, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { ServerlessServiceConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import type { Clock } from '../../lib/clock.ts';
import type { ReconcileResult, Reconciler } from '../../lib/controller.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import type { Logger } from '../../lib/log.ts';
import {
  SKS_API_VERSION,
  type ServerlessService,
  type ServerlessServiceStatus,
  type SksMode,
} from '../../lib/apis/networking.ts';
import {
  ACTIVATOR_SERVICE,
  makePrivateService,
  makePublicEndpoints,
  makePublicService,
  privateServiceName,
  readyAddressCount,
  subsetEndpoints,
} from './resources.ts';

export interface ServerlessServiceReconcilerDeps {
  client: KubeRest;
  serverlessServices: Lister<ServerlessService>;
  services: Lister<V1Service>;
  endpoints: Lister<V1Endpoints>;
  /** Where the activator-service lives (knative-serving). */
  systemNamespace: string;
  clock: Clock;
}

const servicesPath = (ns: string, name = '') => `/api/v1/namespaces/${ns}/services${name ? `/${name}` : ''}`;
const endpointsPath = (ns: string, name = '') => `/api/v1/namespaces/${ns}/endpoints${name ? `/${name}` : ''}`;
const sksStatusPath = (ns: string, name: string) =>
  `/apis/${SKS_API_VERSION}/namespaces/${ns}/serverlessservices/${name}/status`;

class NotOwnedError extends Error {
  readonly code = 'NOT_OWNED';
}

/** The fields of a port we set; the API server fills in no others for ClusterIP Services. */
const portKey = (ports: readonly V1ServicePort[] | undefined) =>
  JSON.stringify(
    (ports ?? []).map((p) => [p.name, p.protocol ?? 'TCP', p.appProtocol ?? null, p.port, p.targetPort ?? p.port]),
  );

/** The mode the public endpoints actually take: no pods forces Proxy, no activators Serve. */
export function effectiveMode(requested: SksMode, privateReady: number, activatorReady: number): SksMode {
  if (activatorReady === 0) return 'Serve';
  if (privateReady === 0) return 'Proxy';
  return requested;
}

export function createServerlessServiceReconciler(deps: ServerlessServiceReconcilerDeps): Reconciler {
  const { client } = deps;

  const reconcileService = async (
    sks: ServerlessService,
    desired: V1Service,
    conditions: ConditionManager,
    creatingReason: string,
  ) => {
    const ns = sks.metadata!.namespace!;
    const name = desired.metadata!.name!;
    const existing = deps.services.get(`${ns}/${name}`);
    if (!existing) {
      conditions.markUnknown('EndpointsPopulated', creatingReason, 'K8s Service is not ready');
      await client.request('POST', servicesPath(ns), { body: desired });
      return;
    }
    if (!isControlledBy(existing, sks)) {
      conditions.markFalse('EndpointsPopulated', 'NotOwned', `Resource ${name} of type Service is not owned by SKS`);
      throw new NotOwnedError(`ServerlessService ${sks.metadata?.name} does not own Service ${name}`);
    }
    const selectorChanged =
      JSON.stringify(existing.spec?.selector ?? null) !== JSON.stringify(desired.spec?.selector ?? null);
    if (!selectorChanged && portKey(existing.spec?.ports) === portKey(desired.spec?.ports)) return;
    const spec = { ...existing.spec, ports: desired.spec?.ports, selector: desired.spec?.selector };
    if (!desired.spec?.selector) delete spec.selector;
    await client.request('PUT', servicesPath(ns, name), { body: { ...existing, spec } });
  };

  const reconcilePublicEndpoints = async (sks: ServerlessService, conditions: ConditionManager) => {
    const ns = sks.metadata!.namespace!;
    const name = sks.metadata!.name!;
    const activators = deps.endpoints.get(`${deps.systemNamespace}/${ACTIVATOR_SERVICE}`);
    const privateEndpoints = deps.endpoints.get(`${ns}/${privateServiceName(name)}`);
    const privateReady = readyAddressCount(privateEndpoints);
    const mode = effectiveMode(sks.spec.mode ?? 'Proxy', privateReady, readyAddressCount(activators));
    const source =
      mode === 'Serve' ? (privateEndpoints ?? {}) : subsetEndpoints(activators!, name, sks.spec.numActivators ?? 0);
    const desired = makePublicEndpoints(sks, source);
    const existing = deps.endpoints.get(`${ns}/${name}`);
    if (!existing) {
      conditions.markUnknown('EndpointsPopulated', 'CreatingPublicEndpoints', 'K8s Service is not ready');
      await client.request('POST', endpointsPath(ns), { body: desired });
    } else if (!isControlledBy(existing, sks)) {
      conditions.markFalse('EndpointsPopulated', 'NotOwned', `Resource ${name} of type Endpoints is not owned by SKS`);
      throw new NotOwnedError(`ServerlessService ${name} does not own Endpoints ${name}`);
    } else if (JSON.stringify(existing.subsets ?? []) !== JSON.stringify(desired.subsets ?? [])) {
      await client.request('PUT', endpointsPath(ns, name), { body: { ...existing, subsets: desired.subsets } });
    }
    if (privateReady > 0) conditions.markTrue('EndpointsPopulated');
    else conditions.markUnknown('EndpointsPopulated', 'NoHealthyBackends', 'K8s Service is not ready');
    // Its transition time tells the autoscaler how long the activator has been in the path.
    if (mode === 'Proxy')
      conditions.markTrue(
        'ActivatorEndpointsPopulated',
        'ActivatorEndpointsPopulated',
        'Revision is backed by Activator',
      );
    else
      conditions.markFalse(
        'ActivatorEndpointsPopulated',
        'ActivatorEndpointsPopulated',
        'Revision is backed by Activator',
      );
  };

  const selectorOf = async (sks: ServerlessService): Promise<Record<string, string>> => {
    const { apiVersion, kind, name } = sks.spec.objectRef;
    if (apiVersion !== 'apps/v1' || kind !== 'Deployment' || !name)
      throw new Error(`unsupported scale target ${apiVersion}/${kind} ${name}`);
    const deployment = await client.request<V1Deployment>(
      'GET',
      `/apis/apps/v1/namespaces/${sks.metadata!.namespace}/deployments/${name}`,
    );
    const labels = deployment.spec?.selector?.matchLabels;
    if (!labels || Object.keys(labels).length === 0) throw new Error(`Deployment ${name} has no matchLabels selector`);
    return labels;
  };

  return async (key: string, _log: Logger): Promise<ReconcileResult | void> => {
    const sks = deps.serverlessServices.get(key);
    if (!sks || sks.metadata?.deletionTimestamp) return;
    const status: ServerlessServiceStatus = structuredClone(sks.status ?? {});
    const conditions = ServerlessServiceConditions.manage(status, deps.clock);
    conditions.initialize();
    const writeStatus = async () => {
      status.observedGeneration = sks.metadata?.generation;
      if (JSON.stringify(status) === JSON.stringify(sks.status ?? {})) return;
      await client.request('PUT', sksStatusPath(sks.metadata!.namespace!, sks.metadata!.name!), {
        body: { ...sks, status },
      });
    };
    try {
      await reconcileService(sks, makePrivateService(sks, await selectorOf(sks)), conditions, 'CreatingPrivateService');
      status.privateServiceName = privateServiceName(sks.metadata!.name!);
      await reconcileService(sks, makePublicService(sks), conditions, 'CreatingPublicService');
      status.serviceName = sks.metadata!.name!;
      await reconcilePublicEndpoints(sks, conditions);
    } catch (error) {
      // A child we do not own stays a problem until someone removes it; say so in the status.
      if (error instanceof NotOwnedError) await writeStatus();
      throw error;
    }
    await writeStatus();
  };
}
