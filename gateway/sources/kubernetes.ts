// The routing source in a cluster: informers on KIngresses (our ingress class only), on the
// Services and EndpointSlices their splits name, and on ServerlessServices for each revision's mode.
// A split names the revision's public Service; its EndpointSlices hold the pod IPs in Serve mode
// or the activator IPs in Proxy mode, so the gateway sends straight to them, as Kourier does.
// Secrets of type kubernetes.io/tls are watched for the certificates the KIngresses' spec.tls name;
// only those named make it into a snapshot.
import type { KubernetesObject, V1EndpointSlice, V1Secret, V1Service } from '@kubernetes/client-node';
import { INGRESS_CLASS_ANNOTATION, type ServerlessService } from '../../lib/apis/networking.ts';
import type { Clock } from '../../lib/clock.ts';
import { followLogLevel } from '../../lib/config/logging.ts';
import { PILOTLIGHT_INGRESS_CLASS } from '../../lib/config/network.ts';
import type { Informer } from '../../lib/kube/informer.ts';
import { InformerFactory } from '../../lib/kube/informerFactory.ts';
import { LeaderElector } from '../../lib/kube/leaderElection.ts';
import { createKubeRest, type KubeRest } from '../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../lib/kube/kubeconfig.ts';
import type { Logger } from '../../lib/log.ts';
import {
  backendKey,
  type BackendAddress,
  type BackendState,
  type Ingress,
  type UpstreamProtocol,
} from '../routing/index.ts';
import { IngressStatusWriter } from '../status.ts';
import type { RoutingSnapshot, RoutingSource } from '../sync.ts';
import { secretKey, type TlsSecretData } from '../tls.ts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface KubernetesSourceOptions {
  client: KubeRest;
  /** Watch one namespace only; default all. */
  namespace?: string;
  ingressClass?: string;
  /** `secretKey` of the gateway's default certificate, read beside the ones the Ingresses name. */
  defaultCertificate?: string;
  log: Logger;
  clock?: Clock;
}

/** The gateway's only Kubernetes reader, so the owner of its process's informer factory. */
export class KubernetesSource implements RoutingSource {
  readonly #ingressClass: string;
  /** The process's informer factory, for the other readers of the cluster it runs beside. */
  readonly informers: InformerFactory;
  readonly #ingresses: Informer<Ingress>;
  readonly #services: Informer<V1Service>;
  readonly #slices: Informer<V1EndpointSlice>;
  readonly #serverlessServices: Informer<ServerlessService>;
  readonly #secrets: Informer<V1Secret>;
  readonly #defaultCertificate: string | undefined;

  constructor(options: KubernetesSourceOptions) {
    this.#defaultCertificate = options.defaultCertificate;
    this.informers = new InformerFactory({ client: options.client, clock: options.clock, log: options.log });
    this.#ingressClass = options.ingressClass ?? PILOTLIGHT_INGRESS_CLASS;
    const scope = options.namespace ? `/namespaces/${options.namespace}` : '';
    const informer = <T extends KubernetesObject>(
      group: string,
      resource: string,
      selectors: { labelSelector?: string; fieldSelector?: string } = {},
    ) => this.informers.informer<T>({ path: `${group}${scope}/${resource}`, ...selectors });
    this.#ingresses = informer('/apis/networking.internal.knative.dev/v1alpha1', 'ingresses');
    this.#services = informer('/api/v1', 'services');
    this.#slices = informer('/apis/discovery.k8s.io/v1', 'endpointslices', { labelSelector: SERVICE_NAME_LABEL });
    this.#serverlessServices = informer('/apis/networking.internal.knative.dev/v1alpha1', 'serverlessservices');
    this.#secrets = informer('/api/v1', 'secrets', { fieldSelector: 'type=kubernetes.io/tls' });
  }

  async start(onChange: () => void): Promise<void> {
    const informers = [
      this.#ingresses,
      this.#services,
      this.#slices,
      this.#serverlessServices,
      this.#secrets,
    ] as Informer<KubernetesObject>[];
    for (const informer of informers) informer.addHandlers({ onAdd: onChange, onUpdate: onChange, onDelete: onChange });
    this.informers.start();
    await Promise.all(informers.map((informer) => informer.whenSynced()));
  }

  snapshot(warmVersions: readonly Ingress[]): RoutingSnapshot {
    const ingresses = this.#ingresses.lister
      .list()
      .filter(
        (ingress) =>
          ingress.metadata?.annotations?.[INGRESS_CLASS_ANNOTATION] === this.#ingressClass &&
          !ingress.metadata?.deletionTimestamp,
      );
    const backends = new Map<string, BackendState>();
    const secrets = new Map<string, TlsSecretData>();
    const addSecret = (key: string) => {
      const secret = this.#secrets.lister.get(key);
      if (secret) secrets.set(key, tlsData(secret));
    };
    if (this.#defaultCertificate !== undefined) addSecret(this.#defaultCertificate);
    for (const ingress of ingresses) {
      for (const tls of ingress.spec?.tls ?? [])
        addSecret(secretKey(tls.secretNamespace ?? ingress.metadata?.namespace ?? '', tls.secretName ?? ''));
    }
    for (const ingress of [...ingresses, ...warmVersions]) {
      for (const rule of ingress.spec?.rules ?? []) {
        for (const path of rule.http?.paths ?? []) {
          for (const split of path.splits ?? []) {
            const key = backendKey(split.serviceNamespace, split.serviceName, split.servicePort);
            if (backends.has(key)) continue;
            const state = this.#backendState(split.serviceNamespace, split.serviceName, split.servicePort);
            if (state) backends.set(key, state);
          }
        }
      }
    }
    return { ingresses, backends, secrets };
  }

  stop(): Promise<void> {
    return this.informers.stop();
  }

  /** Undefined while the Service or the named port does not exist: the split is then "backend unknown". */
  #backendState(namespace: string, name: string, port: number | string): BackendState | undefined {
    const service = this.#services.lister.get(`${namespace}/${name}`);
    const servicePort = service?.spec?.ports?.find((p) => p.port === port || (p.name !== undefined && p.name === port));
    if (!servicePort) return undefined;
    const portName = servicePort.name ?? '';
    // Kourier's rule: a port named http2 or h2c speaks cleartext HTTP/2.
    const protocol: UpstreamProtocol =
      portName === 'http2' || portName === 'h2c' || servicePort.appProtocol === 'kubernetes.io/h2c' ? 'h2c' : 'http1';
    const addresses: BackendAddress[] = [];
    const seen = new Set<string>();
    for (const slice of this.#slices.lister.listNamespace(namespace)) {
      if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== name) continue;
      const slicePort = slice.ports?.find((p) => (p.name ?? '') === portName)?.port;
      if (slicePort === undefined) continue;
      for (const endpoint of slice.endpoints ?? []) {
        // Ready unknown counts as ready, as the EndpointSlice API says consumers should treat it.
        if (endpoint.conditions?.ready === false) continue;
        for (const host of endpoint.addresses) {
          const id = `${host}:${slicePort}`;
          if (seen.has(id)) continue;
          seen.add(id);
          addresses.push({ host, port: slicePort });
        }
      }
    }
    const mode =
      this.#serverlessServices.lister.get(`${namespace}/${name}`)?.spec?.mode === 'Proxy' ? 'proxy' : 'serve';
    return mode === 'serve' ? { mode, protocol, endpoints: addresses } : { mode, protocol, activators: addresses };
  }
}

const tlsData = (secret: V1Secret): TlsSecretData => {
  const decode = (value: string | undefined) =>
    value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  return { certificate: decode(secret.data?.['tls.crt']), privateKey: decode(secret.data?.['tls.key']) };
};

export interface KubernetesSourceFlags {
  kubeconfig: string | undefined;
  watchNamespace: string | undefined;
  publicAddress: string;
  privateAddress: string;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  defaultCertificate?: string | undefined;
}

/** The source plus what publishes Ingress status from the replica that holds the lease. */
export async function startKubernetesSource(flags: KubernetesSourceFlags, log: Logger, clock: Clock) {
  const client = createKubeRest(loadKubeConnection(flags.kubeconfig));
  const source = new KubernetesSource({
    client,
    log,
    clock,
    ...(flags.watchNamespace ? { namespace: flags.watchNamespace } : {}),
    ...(flags.defaultCertificate ? { defaultCertificate: flags.defaultCertificate } : {}),
  });
  let writer: IngressStatusWriter | undefined;
  const elector = new LeaderElector({
    client,
    namespace: flags.leaseNamespace,
    name: flags.leaseName,
    identity: flags.identity,
    clock,
    log: log.with({ lease: flags.leaseName }),
    onStartedLeading: () => writer?.publish(),
  });
  writer = new IngressStatusWriter(
    client,
    { public: flags.publicAddress, private: flags.privateAddress },
    () => elector.isLeader(),
    log,
    clock,
  );
  elector.start();
  // config-logging sits beside the lease, in the system namespace.
  followLogLevel({
    informers: source.informers,
    namespace: flags.leaseNamespace,
    component: 'gateway',
    log: log.with({ part: 'logging' }),
  });
  const statusWriter = writer;
  return {
    source,
    onSwap: (live: Parameters<IngressStatusWriter['publish']>[0]) => statusWriter.publish(live),
    stop: async () => {
      await statusWriter.stop();
      await elector.stop();
    },
  };
}
