// A revision at zero whose first pod is yet to start, with requests held for it: where the
// scale-from-zero tests begin.
import type { Agent } from 'undici';
import {
  eventually,
  heldRequests,
  putRevision,
  reservePodPorts,
  send,
  type ActivatorProc,
  type PodPorts,
} from '../../../harness/activator.ts';

export interface HeldAtZero {
  /** Where the pod will listen; the activator lists it from the start, as Kubernetes lists a not-ready endpoint. */
  ports: PodPorts;
  /** The answers to the held requests, sent as /req/0, /req/1, …, in that order. */
  answers: Promise<Array<{ status: number; body: string }>>;
}

/** Sends count requests for revision and returns once the activator holds them all. */
export async function holdRequestsAtZero(
  activator: ActivatorProc,
  client: Agent,
  revision: string,
  count: number,
): Promise<HeldAtZero> {
  const ports = await reservePodPorts();
  await putRevision(activator, revision, { containerConcurrency: 0, pods: [ports.address] });
  const answers = Promise.all(Array.from({ length: count }, (_, i) => send(activator, client, revision, `/req/${i}`)));
  await eventually(`${count} requests held`, async () => (await heldRequests(activator, revision)) === count);
  return { ports, answers };
}

/** The activator's log line of the probe answer that released the held requests. */
export const releaseLine = (activator: ActivatorProc) =>
  activator.lines.find((l) => l.message === 'pod answered its probe; releasing held requests');
