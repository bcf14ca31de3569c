// The trust behind queue-proxy's announce (lib/hop.ts): each revision's pods carry a token that
// only the controller, which writes it into their environment, and the activators, which check
// it, can compute, from a random key kept in a Secret of the system namespace. A token lets its
// holder announce its own pod address for its own revision, nothing more: the address is the
// announce connection's, and the activator probes the pod before any request reaches it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';

export const ANNOUNCE_KEY_SECRET = 'pilotlight-activator-announce';
/** The Secret's data field holding the key. */
export const ANNOUNCE_KEY_FIELD = 'key';
/** HMAC-SHA256 takes a key of its block's half or more; 32 random bytes. */
export const ANNOUNCE_KEY_BYTES = 32;

/** Hex HMAC-SHA256 of `<namespace>/<revision>` under the key. */
export function announceToken(key: Buffer, namespace: string, revision: string): string {
  return createHmac('sha256', key).update(`${namespace}/${revision}`).digest('hex');
}

/** Whether token is the revision's, compared in constant time. */
export function announceTokenMatches(key: Buffer, namespace: string, revision: string, token: string): boolean {
  const expected = Buffer.from(announceToken(key, namespace, revision));
  const given = Buffer.from(token);
  // A token's length is public (64 hex digits): a different length tells nothing about the key.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A new Secret with a fresh random key. */
export function newAnnounceKeySecret(namespace: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: ANNOUNCE_KEY_SECRET, namespace },
    type: 'Opaque',
    data: { [ANNOUNCE_KEY_FIELD]: randomBytes(ANNOUNCE_KEY_BYTES).toString('base64') },
  };
}

/** The key in the Secret; an error naming the field and the rule when it holds none usable. */
export function announceKeyOf(secret: V1Secret): Buffer {
  const where = `Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`;
  const text = secret.data?.[ANNOUNCE_KEY_FIELD];
  const key = text === undefined ? undefined : Buffer.from(text, 'base64');
  if (key === undefined || key.length < ANNOUNCE_KEY_BYTES)
    throw new Error(`${where}: data.${ANNOUNCE_KEY_FIELD} must hold at least ${ANNOUNCE_KEY_BYTES} bytes`);
  return key;
}
