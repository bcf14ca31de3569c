// The ServerlessService reconciler (upstream pkg/reconciler/serverlessservice/serverlessservice.go):
// private Service, then public Service, then the public Endpoints — the pods' in Serve mode,
// the activators' in Proxy mode — and the SKS status.
import type { V1Deployment, V1Endpoints, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { ServerlessServiceConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import type { ServerlessService, SksMode } from '../../lib/apis/networking.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Reconciler } from '../../lib/controller.ts';
import { NO_EVENTS, type EventSink } from '../../lib/kube/events.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { objectKey, type Lister } from '../../lib/kube/store.ts';
import { reconcileChild } from '../../lib/reconciler/child.ts';
import { kindReconciler, type ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds, type Kind } from '../../lib/reconciler/kinds.ts';
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
  events?: EventSink;
}

class NotOwnedError extends Error {}

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

  /** A child the SKS must control; someone else's in the way is an error until removed, and the status says so. */
  const reconcileOwned = async <C extends V1Service | V1Endpoints>(
    sks: ServerlessService,
    child: {
      kind: Kind;
      description: 'Service' | 'Endpoints';
      existing: C | undefined;
      desired: C;
      equal: (have: C, want: C) => boolean;
      apply: (have: C, want: C) => C;
    },
    conditions: ConditionManager,
    ctx: ReconcileContext,
  ) => {
    const result = await reconcileChild<C>({
      client,
      kind: child.kind,
      description: child.description,
      owner: sks,
      existing: child.existing,
      desired: () => child.desired,
      metadata: 'leave',
      spec: { equal: child.equal, apply: child.apply },
      events: ctx.events,
      createdEvent: false,
      onAlreadyExists: 'wait',
    });
    if (result.state === 'notOwned') {
      const name = result.child.metadata?.name;
      conditions.markFalse(
        'EndpointsPopulated',
        'NotOwned',
        `Resource ${name} of type ${child.description} is not owned by SKS`,
      );
      throw new NotOwnedError(`ServerlessService ${sks.metadata?.name} does not own ${child.description} ${name}`);
    }
    return result.state;
  };

  const reconcileService = async (
    sks: ServerlessService,
    desired: V1Service,
    conditions: ConditionManager,
    creatingReason: string,
    ctx: ReconcileContext,
  ) => {
    const state = await reconcileOwned(
      sks,
      {
        kind: Kinds.coreService,
        description: 'Service',
        existing: deps.services.get(objectKey(desired)),
        desired,
        equal: (have, want) =>
          JSON.stringify(have.spec?.selector ?? null) === JSON.stringify(want.spec?.selector ?? null) &&
          portKey(have.spec?.ports) === portKey(want.spec?.ports),
        apply: (have, want) => {
          const spec = { ...have.spec, ports: want.spec?.ports, selector: want.spec?.selector };
          if (!want.spec?.selector) delete spec.selector;
          return { ...have, spec };
        },
      },
      conditions,
      ctx,
    );
    if (state === 'created' || state === 'pending')
      conditions.markUnknown('EndpointsPopulated', creatingReason, 'K8s Service is not ready');
  };

  const reconcilePublicEndpoints = async (
    sks: ServerlessService,
    conditions: ConditionManager,
    ctx: ReconcileContext,
  ) => {
    const ns = sks.metadata!.namespace!;
    const name = sks.metadata!.name!;
    const activators = deps.endpoints.get(`${deps.systemNamespace}/${ACTIVATOR_SERVICE}`);
    const privateEndpoints = deps.endpoints.get(`${ns}/${privateServiceName(name)}`);
    const privateReady = readyAddressCount(privateEndpoints);
    const mode = effectiveMode(sks.spec.mode ?? 'Proxy', privateReady, readyAddressCount(activators));
    const source =
      mode === 'Serve' ? (privateEndpoints ?? {}) : subsetEndpoints(activators!, name, sks.spec.numActivators ?? 0);
    const state = await reconcileOwned(
      sks,
      {
        kind: Kinds.endpoints,
        description: 'Endpoints',
        existing: deps.endpoints.get(`${ns}/${name}`),
        desired: makePublicEndpoints(sks, source),
        equal: (have, want) => JSON.stringify(have.subsets ?? []) === JSON.stringify(want.subsets ?? []),
        apply: (have, want) => ({ ...have, subsets: want.subsets }),
      },
      conditions,
      ctx,
    );
    if (state === 'created' || state === 'pending')
      conditions.markUnknown('EndpointsPopulated', 'CreatingPublicEndpoints', 'K8s Service is not ready');
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

  return kindReconciler({
    kind: Kinds.serverlessService,
    conditions: ServerlessServiceConditions,
    lister: deps.serverlessServices,
    client,
    clock: deps.clock,
    events: deps.events ?? NO_EVENTS,
    async reconcileKind(sks, ctx) {
      const status = (sks.status ??= {});
      const conditions = ServerlessServiceConditions.manage(status, deps.clock);
      conditions.initialize();
      const privateService = makePrivateService(sks, await selectorOf(sks));
      await reconcileService(sks, privateService, conditions, 'CreatingPrivateService', ctx);
      status.privateServiceName = privateServiceName(sks.metadata!.name!);
      await reconcileService(sks, makePublicService(sks), conditions, 'CreatingPublicService', ctx);
      status.serviceName = sks.metadata!.name!;
      await reconcilePublicEndpoints(sks, conditions, ctx);
    },
  });
}
