// Revisions and their pods from Kubernetes (S:pkg/activator/net/revision_backends.go): each
// Revision gives containerConcurrency and its timeouts; the Endpoints of its private Service
// (`<rev>-private`, labelled serviceType=Private) give the pods' queue-proxy addresses. Ready
// and not-ready addresses are both passed on, as Knative's probe optimisation does: a pod takes
// traffic as soon as it answers a probe, a probe period before its endpoint turns ready. Which
// ones are not ready is passed on too, so a pod whose endpoint turns not ready is probed again.
// A revision with a reserved burstable instance also has a `<rev>-reserved` Service (labelled
// serviceType=Reserved and with the instance's containerConcurrency); its Endpoints list the
// reserved pod, which is reported apart from the standard ones.
import type { V1EndpointAddress, V1Endpoints } from '@kubernetes/client-node';
import type { Revision } from '../lib/apis/serving.ts';
import { Labels } from '../lib/apis/serving.ts';
import type { Clock } from '../lib/clock.ts';
import { RESERVED_SERVICE_TYPE, ReservedInstanceLabels } from '../lib/config/reservedInstance.ts';
import type { Informer } from '../lib/kube/informer.ts';
import { InformerFactory } from '../lib/kube/informerFactory.ts';
import { QueuePortNames } from '../lib/hop.ts';
import { backendPort } from '../lib/apis/networking.ts';
import { servingContainerOf, servingProtocol } from '../lib/apis/revision.ts';
import type { KubeRest } from '../lib/kube/rest.ts';
import type { Logger } from '../lib/log.ts';
import {
  DEFAULT_TIMEOUT_MS,
  podAddress,
  revisionKey,
  type PodSource,
  type PodSourceListener,
  type ReservedBackends,
  type RevisionBackends,
  type RevisionKey,
} from './backends.ts';

/** The private Service's names for queue-proxy's serving ports. */
const QUEUE_PORT_NAMES: ReadonlySet<string> = new Set(Object.values(QueuePortNames));

/** The activator's only Kubernetes reader, so the owner of its process's informer factory. */
export class KubePodSource implements PodSource {
  /** The process's informer factory, for the other readers of the cluster it runs beside. */
  readonly informers: InformerFactory;
  #revisions: Informer<Revision>;
  #endpoints: Informer<V1Endpoints>;
  #log: Logger;
  #listener: PodSourceListener | undefined;
  /** Which revision each private Endpoints object belongs to, to find it again when it is deleted. */
  #endpointsOwner = new Map<string, RevisionKey>();
  #endpointsOf = new Map<RevisionKey, Set<string>>();

  constructor(client: KubeRest, log: Logger, clock?: Clock) {
    this.#log = log;
    this.informers = new InformerFactory({ client, log, clock });
    this.#revisions = this.informers.informer<Revision>({ path: '/apis/serving.knative.dev/v1/revisions' });
    this.#endpoints = this.informers.informer<V1Endpoints>({
      path: '/api/v1/endpoints',
      labelSelector: `${Labels.serviceType} in (Private,${RESERVED_SERVICE_TYPE}),${Labels.revision}`,
    });
  }

  async start(listener: PodSourceListener): Promise<void> {
    this.#listener = listener;
    this.#revisions.addHandlers({
      onAdd: (revision) => this.#changed(objectRevisionKey(revision)),
      onUpdate: (_previous, revision) => this.#changed(objectRevisionKey(revision)),
      onDelete: (revision) => this.#changed(objectRevisionKey(revision)),
    });
    this.#endpoints.addHandlers({
      onAdd: (endpoints) => this.#endpointsChanged(endpoints),
      onUpdate: (_previous, endpoints) => this.#endpointsChanged(endpoints),
      onDelete: (endpoints) => {
        const name = endpointsKey(endpoints);
        const key = this.#endpointsOwner.get(name);
        if (key === undefined) return;
        this.#endpointsOwner.delete(name);
        this.#endpointsOf.get(key)?.delete(name);
        this.#changed(key);
      },
    });
    this.informers.start();
    await Promise.all([this.#revisions.whenSynced(), this.#endpoints.whenSynced()]);
  }

  stop(): Promise<void> {
    return this.informers.stop();
  }

  #endpointsChanged(endpoints: V1Endpoints): void {
    const revision = endpoints.metadata?.labels?.[Labels.revision];
    if (revision === undefined) return;
    const key = revisionKey(endpoints.metadata?.namespace ?? '', revision);
    const name = endpointsKey(endpoints);
    this.#endpointsOwner.set(name, key);
    let names = this.#endpointsOf.get(key);
    if (names === undefined) this.#endpointsOf.set(key, (names = new Set()));
    names.add(name);
    this.#changed(key);
  }

  #changed(key: RevisionKey): void {
    const revision = this.#revisions.lister.get(key);
    if (revision === undefined) {
      this.#listener?.revisionChanged(key, undefined);
      return;
    }
    const pods: string[] = [];
    const notReady: string[] = [];
    let reserved: ReservedBackends | undefined;
    for (const name of this.#endpointsOf.get(key) ?? []) {
      const endpoints = this.#endpoints.lister.get(name);
      if (endpoints === undefined) continue;
      if (endpoints.metadata?.labels?.[Labels.serviceType] !== RESERVED_SERVICE_TYPE) {
        pods.push(...podAddresses(endpoints, notReady));
        continue;
      }
      const text = endpoints.metadata.labels[ReservedInstanceLabels.containerConcurrency];
      const containerConcurrency = Number(text);
      if (!Number.isInteger(containerConcurrency) || containerConcurrency < 1) {
        // Unlimited would defeat the point of a small instance; better to serve it not at all.
        this.#log.warn('reserved endpoints without a valid containerConcurrency label; ignoring them', {
          endpoints: name,
          label: ReservedInstanceLabels.containerConcurrency,
          value: text,
        });
        continue;
      }
      reserved = { containerConcurrency, pods: [...(reserved?.pods ?? []), ...podAddresses(endpoints, notReady)] };
    }
    const backends = backendsOf(revision, pods, reserved);
    this.#listener?.revisionChanged(key, notReady.length === 0 ? backends : { ...backends, notReady });
  }
}

function objectRevisionKey(revision: Revision): RevisionKey {
  return revisionKey(revision.metadata?.namespace ?? '', revision.metadata?.name ?? '');
}

function endpointsKey(endpoints: V1Endpoints): string {
  return `${endpoints.metadata?.namespace ?? ''}/${endpoints.metadata?.name ?? ''}`;
}

export function backendsOf(revision: Revision, pods: readonly string[], reserved?: ReservedBackends): RevisionBackends {
  const spec = revision.spec;
  const timeoutSeconds = spec?.timeoutSeconds;
  const responseStartSeconds = spec?.responseStartTimeoutSeconds;
  const idleSeconds = spec?.idleTimeoutSeconds;
  return {
    containerConcurrency: spec?.containerConcurrency ?? 0,
    timeoutMs: timeoutSeconds === undefined ? DEFAULT_TIMEOUT_MS : timeoutSeconds * 1000,
    ...(responseStartSeconds ? { responseStartTimeoutMs: responseStartSeconds * 1000 } : {}),
    ...(idleSeconds ? { idleTimeoutMs: idleSeconds * 1000 } : {}),
    pods,
    ...(reserved === undefined ? {} : { reserved }),
    // The port the private Service targets for the revision's protocol (autoscaler/serverlessservice).
    announcePort: backendPort(servingProtocol(spec?.containers === undefined ? undefined : servingContainerOf(spec))),
  };
}

/**
 * `ip:port` of every address, ready or not, at the queue-proxy serving port of its subset; the
 * not-ready ones are also appended to `notReady`.
 */
export function podAddresses(endpoints: V1Endpoints, notReady: string[]): string[] {
  const pods: string[] = [];
  for (const subset of endpoints.subsets ?? []) {
    const port = subset.ports?.find((p) => p.name !== undefined && QUEUE_PORT_NAMES.has(p.name));
    if (port === undefined) continue;
    const addressOf = (address: V1EndpointAddress) => podAddress(address.ip, port.port);
    for (const address of subset.addresses ?? []) pods.push(addressOf(address));
    for (const address of subset.notReadyAddresses ?? []) {
      const pod = addressOf(address);
      pods.push(pod);
      notReady.push(pod);
    }
  }
  return pods;
}
