// Runs the ServerlessService reconciler: the process's informers on SKSs, on the Services and
// Endpoints they own (selected by label), and on the activator's Endpoints, whose changes touch every SKS.
import type { KubernetesObject, V1Endpoints, V1Service } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { Labels } from '../../lib/apis/serving.ts';
import { realClock, type Clock } from '../../lib/clock.ts';
import { Controller, type Leadership } from '../../lib/controller.ts';
import type { InformerFactory } from '../../lib/kube/informerFactory.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { objectKey, type Lister } from '../../lib/kube/store.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { createServerlessServiceReconciler } from './reconciler.ts';
import { SKS_API_VERSION, SKS_LABEL, type ServerlessService } from '../../lib/apis/networking.ts';
import { ACTIVATOR_SERVICE } from './resources.ts';

export interface ServerlessServiceControllerOptions {
  client: KubeRest;
  /** The process's factory; its owner starts and stops it. */
  informers: InformerFactory;
  /** Watch one namespace only; all of them when absent. */
  namespace?: string;
  systemNamespace: string;
  registry: Registry;
  leadership?: Leadership;
  clock?: Clock;
  log?: Logger;
}

export interface RunningServerlessServiceController {
  controller: Controller;
  whenSynced(): Promise<void>;
  /** Stops the controller; the informers are the factory owner's to stop. */
  stop(): Promise<void>;
}

/** Looks a key up in each lister in turn: the activator's Endpoints live apart from the revisions'. */
function firstOf<T extends KubernetesObject>(listers: Lister<T>[]): Lister<T> {
  return {
    get: (key) => listers.map((l) => l.get(key)).find((o) => o !== undefined),
    list: () => listers.flatMap((l) => l.list()),
    listNamespace: (ns) => listers.flatMap((l) => l.listNamespace(ns)),
  };
}

export function startServerlessServiceController(
  options: ServerlessServiceControllerOptions,
): RunningServerlessServiceController {
  const { client, informers: factory } = options;
  const scope = options.namespace ? `/namespaces/${options.namespace}` : '';
  const serverlessServices = factory.informer<ServerlessService & KubernetesObject>({
    path: `/apis/${SKS_API_VERSION}${scope}/serverlessservices`,
  });
  const services = factory.informer<V1Service>({ path: `/api/v1${scope}/services`, labelSelector: SKS_LABEL });
  // The endpoints controller copies the private Service's labels onto its Endpoints.
  const endpoints = factory.informer<V1Endpoints>({
    path: `/api/v1${scope}/endpoints`,
    labelSelector: Labels.serviceType,
  });
  const activator = factory.informer<V1Endpoints>({
    path: `/api/v1/namespaces/${options.systemNamespace}/endpoints`,
    fieldSelector: `metadata.name=${ACTIVATOR_SERVICE}`,
  });
  const informers = [serverlessServices, services, endpoints, activator];

  const controller = new Controller({
    name: 'serverlessservice',
    registry: options.registry,
    leadership: options.leadership,
    clock: options.clock,
    log: options.log ?? createLogger('controller', { controller: 'serverlessservice' }),
    reconcile: createServerlessServiceReconciler({
      client,
      serverlessServices: serverlessServices.lister,
      services: services.lister,
      endpoints: firstOf([endpoints.lister, activator.lister]),
      systemNamespace: options.systemNamespace,
      clock: options.clock ?? realClock,
    }),
  });
  const owningSks = (object: KubernetesObject) => {
    const sks = object.metadata?.labels?.[SKS_LABEL];
    return sks ? [`${object.metadata?.namespace}/${sks}`] : [];
  };
  controller.watch(serverlessServices);
  controller.watch(services, owningSks);
  controller.watch(endpoints, owningSks);
  controller.watch(activator, () => serverlessServices.lister.list().map(objectKey));

  void controller.start();
  return {
    controller,
    whenSynced: async () => {
      await Promise.all(informers.map((i) => i.whenSynced()));
    },
    stop: () => controller.stop(),
  };
}
