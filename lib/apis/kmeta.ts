// Object-meta helpers shared by every reconciler: length-safe child names, owner references.
import { createHash } from 'node:crypto';

const MAX_NAME = 63;
const MD5_HEX_LENGTH = 32;
const KEPT_PREFIX = MAX_NAME - MD5_HEX_LENGTH;

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/**
 * `parent + suffix`, kept within 63 characters the way Knative does (knative.dev/pkg kmeta
 * ChildName), so our children have the names Knative tools expect: a long parent is cut and an
 * md5 of it keeps the name unique.
 */
export function childName(parent: string, suffix: string): string {
  if (parent.length + suffix.length <= MAX_NAME) return parent + suffix;
  if (KEPT_PREFIX - suffix.length > 0) {
    return parent.slice(0, KEPT_PREFIX - suffix.length) + md5(parent) + suffix;
  }
  // A suffix this long cannot be kept whole: hash both, pad with the start of the suffix.
  let name = parent.slice(0, KEPT_PREFIX) + md5(parent + suffix);
  if (name.length < MAX_NAME) name += suffix.slice(0, MAX_NAME - name.length);
  return name.replace(/[^a-z0-9]+$/, '');
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: true;
  blockOwnerDeletion: true;
}

export interface OwnerLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; uid?: string };
}

export function controllerReference(owner: OwnerLike): OwnerReference {
  const name = owner.metadata?.name;
  const uid = owner.metadata?.uid;
  if (!owner.apiVersion || !owner.kind || !name || !uid) {
    throw new Error(
      `cannot reference ${owner.kind ?? 'object'} ${name ?? ''}: apiVersion, kind, name and uid are required`,
    );
  }
  return { apiVersion: owner.apiVersion, kind: owner.kind, name, uid, controller: true, blockOwnerDeletion: true };
}

export function isControlledBy(
  object: { metadata?: { ownerReferences?: { uid: string; controller?: boolean }[] } },
  owner: OwnerLike,
): boolean {
  return (object.metadata?.ownerReferences ?? []).some(
    (ref) => ref.controller === true && ref.uid === owner.metadata?.uid,
  );
}
