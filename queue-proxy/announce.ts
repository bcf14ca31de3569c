// Tells every activator that this pod's user container answered its readiness probe (lib/hop.ts
// ANNOUNCE_PATH), so a request held at zero reaches the pod without waiting for the kubelet's next
// status write and the Endpoints that follow it. Once, fire-and-forget, each attempt bounded: a
// lost announce changes nothing, the Endpoints still bring the pod a moment later.
import { lookup } from 'node:dns/promises';
import { isIPv6 } from 'node:net';
import { http } from '../lib/http/builtins.ts';
import { ANNOUNCE_PATH, type AnnounceBody } from '../lib/hop.ts';
import type { Logger } from '../lib/log.ts';

/** Per activator, connecting included: activators answer at once or not at all. */
const ANNOUNCE_TIMEOUT_MS = 1000;

export interface AnnounceTarget {
  /** A name whose addresses are every activator pod's (a headless Service). */
  host: string;
  port: number;
  body: AnnounceBody;
}

/**
 * Resolves the activators' addresses now, so the lookup is done by the time the user container is
 * ready, and returns the announce to make then.
 */
export function prepareAnnounce(target: AnnounceTarget, log: Logger): () => Promise<void> {
  const addresses = lookup(target.host, { all: true }).then(
    (found) => found.map((a) => a.address),
    (error: Error) => {
      log.warn('cannot resolve the activators to announce the pod to', { host: target.host, error: error.message });
      return [];
    },
  );
  const payload = JSON.stringify(target.body);
  return async () => {
    const outcomes = await Promise.all((await addresses).map((address) => post(address, target.port, payload)));
    log.info('announced the pod to the activators', {
      activators: outcomes.length,
      answers: outcomes.map(({ address, outcome }) => `${address}: ${outcome}`),
    });
  };
}

function post(address: string, port: number, payload: string): Promise<{ address: string; outcome: string }> {
  return new Promise((resolve) => {
    const req = http.request({
      host: address,
      port,
      path: ANNOUNCE_PATH,
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      timeout: ANNOUNCE_TIMEOUT_MS,
      ...(isIPv6(address) ? { family: 6 } : {}),
    });
    const timer = setTimeout(() => req.destroy(new Error('timed out')), ANNOUNCE_TIMEOUT_MS);
    const done = (outcome: string) => {
      clearTimeout(timer);
      resolve({ address, outcome });
    };
    req.once('response', (res) => {
      res.resume();
      done(String(res.statusCode));
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    req.end(payload);
  });
}
