// The reconcilers of `pilotlight controller`: the process's informers for every kind they read, one
// parsed ConfigMap store, and one Controller per kind, all gated by the same leadership.
import type { PodAutoscaler } from '../lib/apis/autoscaling.ts';
import type { KubernetesObject, V1Deployment, V1Namespace, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import {
  CertificateConditions,
  ConfigurationConditions,
  DomainMappingConditions,
  RevisionConditions,
  RouteConditions,
  ServiceConditions,
} from '../lib/apis/conditions.ts';
import { DomainMappingLabels, type ClusterDomainClaim, type DomainMappingObject } from '../lib/apis/domainMapping.ts';
import { Labels, type Service, type Route, type Revision, type Configuration } from '../lib/apis/serving.ts';
import { realClock, type Clock } from '../lib/clock.ts';
import { CONFIG_AUTOSCALER, parseAutoscalerConfig } from '../lib/config/autoscaler.ts';
import { CONFIG_DEPLOYMENT, parseDeploymentConfig } from '../lib/config/deployment.ts';
import { CONFIG_DOMAIN, parseDomainConfig } from '../lib/config/domain.ts';
import { CONFIG_FEATURES, parseFeatures } from '../lib/config/features.ts';
import { CONFIG_GC, parseGcConfig, type GcConfig } from '../lib/config/gc.ts';
import { CONFIG_LOGGING, parseLoggingConfig } from '../lib/config/logging.ts';
import { CONFIG_NETWORK, parseNetworkConfig, PILOTLIGHT_CERTIFICATE_CLASS } from '../lib/config/network.ts';
import { CONFIG_CERT_MANAGER, parseCertManagerConfig, type CertManagerConfig } from '../lib/config/certManager.ts';
import { certManagerReconciler } from './certmanager/reconciler.ts';
import { CERT_MANAGER_CERTIFICATE_CLASS, type CertManagerCertificate } from './certmanager/resources/certificate.ts';
import {
  CONFIG_RESERVED_INSTANCE,
  parseReservedInstanceConfig,
  RESERVED_SERVICE_TYPE,
} from '../lib/config/reservedInstance.ts';
import { ConfigStore, requiredConfig, type ConfigEntries } from '../lib/config/store.ts';
import { Controller, type Leadership } from '../lib/controller.ts';
import { EventRecorder } from '../lib/kube/events.ts';
import type { Informer } from '../lib/kube/informer.ts';
import type { InformerFactory } from '../lib/kube/informerFactory.ts';
import type { KubeRest } from '../lib/kube/rest.ts';
import { objectKey } from '../lib/kube/store.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { configurationReconciler } from './configuration/reconciler.ts';
import { DOMAIN_MAPPING_FINALIZER, domainMappingReconciler } from './domainmapping/reconciler.ts';
import { gcReconciler } from './gc/reconciler.ts';
import { kindReconciler, type KindReconcilerOptions, type WithStatus } from '../lib/reconciler/kindReconciler.ts';
import { collectionPath, Kinds, type Kind } from '../lib/reconciler/kinds.ts';
import { secretAnnounceKey } from './revision/announceKey.ts';
import { revisionReconciler, type RevisionConfigSnapshot } from './revision/reconciler.ts';
import { instanceModeRecorder } from './revision/reservedInstance.ts';
import { clusterCaCertificates, createDigestResolver, type DigestResolver } from './revision/digests.ts';
import { createRegistryClient } from '../lib/oci/client.ts';
import { routeReconciler, type RouteConfigSnapshot } from './route/reconciler.ts';
import { CERTIFICATE_UID_LABEL, CertificateLabels, type Certificate, type Ingress } from '../lib/apis/networking.ts';
import { secretAuthority } from './certificate/authority.ts';
import { certificateReconciler, isOfClass } from './certificate/reconciler.ts';
import { gatewayStatsReader } from './route/gatewayStats.ts';
import { namespaceCertificateReconciler } from './nscert/reconciler.ts';
import { serviceReconciler } from './service/reconciler.ts';

export interface ReconcilersOptions {
  client: KubeRest;
  /** The process's factory; its owner starts and stops it. */
  informers: InformerFactory;
  systemNamespace: string;
  /** Watch and reconcile this namespace only; all namespaces by default. */
  namespace?: string;
  leadership?: Leadership;
  registry: Registry;
  workers?: number;
  clock?: Clock;
  log?: Logger;
  /** Resolves Revisions' image tags; by default against the registries, trusting the cluster's CA too. */
  resolveDigest?: DigestResolver;
  /** The gateway's GET /revisions/stats, read by the canary analysis; without it no check finds figures. */
  gatewayStatsUrl?: string;
  /**
   * Run pilotlight's certificate class (controllers/certificate). Off by default: it needs to read
   * and write Secrets in every namespace, which the controller's role otherwise never grants.
   */
  certificateIssuer?: boolean;
  /**
   * Run cert-manager's certificate class (controllers/certmanager): needs cert-manager's
   * Certificate CRD installed, and rights on cert-manager.io Certificates.
   */
  certManager?: boolean;
  /**
   * The DNS name of the activators' announce Service: each revision's queue-proxy announces its pod
   * there, with a token from the key in Secret pilotlight-activator-announce of the system
   * namespace (created when absent). No announce when unset.
   */
  announceHost?: string;
}

export interface Reconcilers {
  /** Resolves once every informer has its first list. */
  whenSynced(): Promise<void>;
  /** Stops the controllers; the informers are the factory owner's to stop. */
  stop(): Promise<void>;
}

/** How often the controller's informers re-deliver every object, so a missed event heals. */
export const RESYNC_PERIOD_MS = 10 * 60_000;

type ReconcilerConfig = RevisionConfigSnapshot & RouteConfigSnapshot & { gc: GcConfig; certManager: CertManagerConfig };

const configEntries: ConfigEntries<ReconcilerConfig> = {
  deployment: { name: CONFIG_DEPLOYMENT, parse: requiredConfig(parseDeploymentConfig) },
  autoscaler: { name: CONFIG_AUTOSCALER, parse: parseAutoscalerConfig },
  features: { name: CONFIG_FEATURES, parse: parseFeatures },
  network: { name: CONFIG_NETWORK, parse: parseNetworkConfig },
  domain: { name: CONFIG_DOMAIN, parse: parseDomainConfig },
  gc: { name: CONFIG_GC, parse: parseGcConfig },
  certManager: { name: CONFIG_CERT_MANAGER, parse: parseCertManagerConfig },
  reservedInstance: { name: CONFIG_RESERVED_INSTANCE, parse: parseReservedInstanceConfig },
  logging: { name: CONFIG_LOGGING, parse: parseLoggingConfig },
};

/** Keys of the controlling owner of the given kind, e.g. a Deployment's Revision. */
const controllerOf =
  (kind: string) =>
  (object: KubernetesObject): string[] =>
    (object.metadata?.ownerReferences ?? [])
      .filter((ref) => ref.controller && ref.kind === kind)
      .map((ref) => `${object.metadata?.namespace}/${ref.name}`);

export function startReconcilers(options: ReconcilersOptions): Reconcilers {
  const { client, registry } = options;
  const clock = options.clock ?? realClock;
  const log = options.log ?? createLogger('reconcilers');
  const informers: Pick<Informer, 'whenSynced'>[] = [];
  const informer = <T extends KubernetesObject>(kind: Kind, labelSelector?: string, fieldSelector?: string) => {
    const shared = options.informers.informer<T>({
      path: collectionPath(kind, kind.clusterScoped ? undefined : options.namespace),
      labelSelector,
      fieldSelector,
    });
    informers.push(shared);
    return shared;
  };
  const services = informer<Service>(Kinds.service);
  const configurations = informer<Configuration>(Kinds.configuration);
  const revisions = informer<Revision>(Kinds.revision);
  const routes = informer<Route>(Kinds.route);
  const deployments = informer<V1Deployment>(Kinds.deployment, Labels.revision);
  const pods = informer<V1Pod>(Kinds.pod, Labels.revision);
  const podAutoscalers = informer<PodAutoscaler>(Kinds.podAutoscaler);
  const reservedServices = informer<V1Service>(Kinds.coreService, `${Labels.serviceType}=${RESERVED_SERVICE_TYPE}`);
  const ingresses = informer<Ingress>(Kinds.ingress, Labels.route);
  const routeServices = informer<V1Service>(Kinds.coreService, Labels.route);
  const domainMappings = informer<DomainMappingObject>(Kinds.domainMapping);
  const domainMappingIngresses = informer<Ingress>(Kinds.ingress, DomainMappingLabels.uid);
  const domainClaims = informer<ClusterDomainClaim>(Kinds.clusterDomainClaim);
  // Every Route's Certificates, and the namespaces' wildcard ones, whichever class issues them.
  const certificates = informer<Certificate>(Kinds.certificate);
  // A namespaced controller looks after its own namespace's wildcard Certificates only.
  const namespaces = informer<V1Namespace>(
    Kinds.namespace,
    undefined,
    options.namespace ? `metadata.name=${options.namespace}` : undefined,
  );
  const certManagerCertificates = options.certManager
    ? informer<CertManagerCertificate>(Kinds.certManagerCertificate)
    : undefined;
  const certificateSecrets = options.certificateIssuer
    ? informer<V1Secret>(Kinds.secret, CERTIFICATE_UID_LABEL)
    : undefined;

  const store = new ConfigStore<ReconcilerConfig>({
    informers: options.informers,
    namespace: options.systemNamespace,
    entries: configEntries,
    log: log.with({ part: 'config' }),
  });
  const events = new EventRecorder({ client, component: 'pilotlight-controller', clock });

  const controllers: Controller[] = [];
  const controller = <T extends WithStatus>(
    name: string,
    source: Informer<T>,
    reconcile: Pick<KindReconcilerOptions<T>, 'kind' | 'conditions' | 'reconcileKind' | 'finalizer' | 'handles'>,
  ) => {
    const created = new Controller({
      name,
      registry,
      workers: options.workers,
      leadership: options.leadership,
      clock,
      log: log.with({ controller: name }),
      reconcile: kindReconciler({ ...reconcile, lister: source.lister, client, clock, events }),
    });
    created.watch(source);
    controllers.push(created);
    return created;
  };

  const serviceController = controller('service', services, {
    kind: Kinds.service,
    conditions: ServiceConditions,
    reconcileKind: serviceReconciler({ client, configurations: configurations.lister, routes: routes.lister }),
  });
  serviceController.watch(configurations, controllerOf('Service'));
  serviceController.watch(routes, controllerOf('Service'));

  const configurationController = controller('configuration', configurations, {
    kind: Kinds.configuration,
    conditions: ConfigurationConditions,
    reconcileKind: configurationReconciler({ client, revisions: revisions.lister }),
  });
  configurationController.watch(revisions, controllerOf('Configuration'));

  const announceKey = options.announceHost
    ? secretAnnounceKey(client, options.systemNamespace, log.with({ part: 'announce' }))
    : undefined;
  const revisionController = controller('revision', revisions, {
    kind: Kinds.revision,
    conditions: RevisionConditions,
    reconcileKind: revisionReconciler({
      client,
      deployments: deployments.lister,
      pods: pods.lister,
      podAutoscalers: podAutoscalers.lister,
      reservedServices: reservedServices.lister,
      recordInstanceMode: instanceModeRecorder(registry),
      config: () => store.snapshot(),
      systemNamespace: options.systemNamespace,
      resolveDigest: options.resolveDigest ?? createDigestResolver(createRegistryClient(clusterCaCertificates())),
      ...(options.announceHost && announceKey ? { announce: { host: options.announceHost, key: announceKey } } : {}),
    }),
  });
  revisionController.watch(deployments, controllerOf('Revision'));
  revisionController.watch(podAutoscalers, controllerOf('Revision'));
  revisionController.watch(reservedServices, controllerOf('Revision'));
  revisionController.watch(pods, (pod) => {
    const revision = pod.metadata?.labels?.[Labels.revision];
    return revision ? [`${pod.metadata?.namespace}/${revision}`] : [];
  });

  const routeController = controller('route', routes, {
    kind: Kinds.route,
    conditions: RouteConditions,
    reconcileKind: routeReconciler({
      client,
      configurations: configurations.lister,
      revisions: revisions.lister,
      ingresses: ingresses.lister,
      services: routeServices.lister,
      certificates: certificates.lister,
      config: () => store.snapshot(),
      ...(options.gatewayStatsUrl ? { readFigures: gatewayStatsReader(options.gatewayStatsUrl) } : {}),
    }),
  });
  routeController.watch(ingresses, controllerOf('Route'));
  routeController.watch(routeServices, controllerOf('Route'));
  const routesInNamespace = (object: KubernetesObject) =>
    routes.lister.listNamespace(object.metadata?.namespace ?? '').map(objectKey);
  // A namespace's wildcard Certificate may serve any of its routes.
  routeController.watch(certificates, (certificate) =>
    certificate.metadata?.labels?.[CertificateLabels.wildcardDomain] !== undefined
      ? routesInNamespace(certificate)
      : controllerOf('Route')(certificate),
  );
  // Readiness of any revision or configuration may move a route's traffic; routes per namespace are few.
  routeController.watch(configurations, routesInNamespace);
  routeController.watch(revisions, routesInNamespace);

  const domainMapping = domainMappingReconciler({
    client,
    domainClaims: domainClaims.lister,
    ingresses: domainMappingIngresses.lister,
    services: services.lister,
    routes: routes.lister,
    certificates: certificates.lister,
    config: () => store.snapshot(),
  });
  const domainMappingController = controller('domainmapping', domainMappings, {
    kind: Kinds.domainMapping,
    conditions: DomainMappingConditions,
    reconcileKind: domainMapping.reconcile,
    finalizer: { name: DOMAIN_MAPPING_FINALIZER, finalizeKind: domainMapping.finalize },
  });
  domainMappingController.watch(domainMappingIngresses, controllerOf('DomainMapping'));
  domainMappingController.watch(certificates, controllerOf('DomainMapping'));
  // A claim freed or taken may settle the DomainMappings of that name in any namespace.
  domainMappingController.watch(domainClaims, (claim) =>
    domainMappings.lister
      .list()
      .filter((dm) => dm.metadata?.name === claim.metadata?.name)
      .map(objectKey),
  );
  // A referenced Service or Route getting (or changing) its address; mappings per namespace are few.
  const domainMappingsInNamespace = (object: KubernetesObject) =>
    domainMappings.lister.listNamespace(object.metadata?.namespace ?? '').map(objectKey);
  domainMappingController.watch(services, domainMappingsInNamespace);
  domainMappingController.watch(routes, domainMappingsInNamespace);

  const certificateController = certificateSecrets
    ? controller('certificate', certificates, {
        kind: Kinds.certificate,
        conditions: CertificateConditions,
        handles: (certificate) =>
          isOfClass(certificate, PILOTLIGHT_CERTIFICATE_CLASS, store.snapshot().network.certificateClass),
        reconcileKind: certificateReconciler({
          client,
          secrets: certificateSecrets.lister,
          authority: secretAuthority(client, options.systemNamespace),
        }),
      })
    : undefined;
  if (certificateSecrets) certificateController?.watch(certificateSecrets, controllerOf('Certificate'));

  const certManagerController = certManagerCertificates
    ? controller('certmanager', certificates, {
        kind: Kinds.certificate,
        conditions: CertificateConditions,
        handles: (certificate) =>
          isOfClass(certificate, CERT_MANAGER_CERTIFICATE_CLASS, store.snapshot().network.certificateClass),
        reconcileKind: certManagerReconciler({
          client,
          certManagerCertificates: certManagerCertificates.lister,
          config: () => store.snapshot().certManager,
        }),
      })
    : undefined;
  if (certManagerCertificates) certManagerController?.watch(certManagerCertificates, controllerOf('Certificate'));

  const namespaceCertificateController = new Controller({
    name: 'namespace-certificate',
    registry,
    workers: options.workers,
    leadership: options.leadership,
    clock,
    log: log.with({ controller: 'namespace-certificate' }),
    reconcile: namespaceCertificateReconciler({
      client,
      namespaces: namespaces.lister,
      certificates: certificates.lister,
      config: () => store.snapshot(),
      events,
    }),
  });
  namespaceCertificateController.watch(namespaces);
  namespaceCertificateController.watch(certificates, (certificate) =>
    (certificate.metadata?.ownerReferences ?? [])
      .filter((ref) => ref.controller && ref.kind === 'Namespace')
      .map((ref) => ref.name),
  );
  controllers.push(namespaceCertificateController);

  const gcController = new Controller({
    name: 'gc',
    registry,
    workers: options.workers,
    leadership: options.leadership,
    clock,
    log: log.with({ controller: 'gc' }),
    reconcile: gcReconciler({
      client,
      configurations: configurations.lister,
      revisions: revisions.lister,
      config: () => store.snapshot().gc,
      clock,
    }),
  });
  gcController.watch(configurations);
  gcController.watch(revisions, controllerOf('Configuration'));
  controllers.push(gcController);

  // Config changes can alter every child we build.
  store.onChange(() => {
    for (const object of revisions.lister.list()) revisionController.enqueue(objectKey(object));
    for (const object of routes.lister.list()) routeController.enqueue(objectKey(object));
    for (const object of domainMappings.lister.list()) domainMappingController.enqueue(objectKey(object));
    for (const object of namespaces.lister.list()) namespaceCertificateController.enqueue(objectKey(object));
    for (const object of certificates.lister.list()) {
      certificateController?.enqueue(objectKey(object));
      certManagerController?.enqueue(objectKey(object));
    }
  });

  // As upstream, whose controller will not start without config-deployment: an operator whose
  // configuration was never installed stays out of the way (only its webhook serves) instead of
  // stamping out workloads that cannot run.
  let stopped = false;
  log.info('reconcilers wait for their ConfigMap', { configMap: `${options.systemNamespace}/${CONFIG_DEPLOYMENT}` });
  void store.whenPresent(CONFIG_DEPLOYMENT).then(() => {
    if (stopped) return;
    log.info('starting reconcilers');
    // The activators read the key as soon as it exists, before the first pod needs it.
    announceKey?.().catch((error: Error) => log.warn('cannot read or create the announce key', { error }));
    for (const c of controllers) void c.start();
  });

  return {
    async whenSynced() {
      await Promise.all([store.whenSynced(), ...informers.map((i) => i.whenSynced())]);
    },
    async stop() {
      stopped = true;
      await Promise.all(controllers.map((c) => c.stop()));
    },
  };
}
