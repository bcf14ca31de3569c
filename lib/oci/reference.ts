// Image references as container runtimes read them ("name[:tag]" or "name@sha256:…"), split into
// the registry to ask, the repository in it and the tag or digest. Pure.

/** Docker Hub's API host; references without a registry mean it. */
export const DOCKER_HUB = 'index.docker.io';

export interface ImageReference {
  /** host[:port], as the reference names it (Docker Hub as index.docker.io). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const REGISTRY = /^[a-zA-Z0-9.-]+(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/;

/** Parses an image reference; a bad one is an Error naming the reference and the rule it breaks. */
export function parseImageReference(image: string): ImageReference {
  const fail = (rule: string) => new Error(`could not parse image reference "${image}": ${rule}`);
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw fail('the digest must be sha256: followed by 64 lowercase hex digits');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw fail('a tag is up to 128 letters, digits, _, . and -, not starting with . or -');
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  // As Docker: the first component is a registry only if it looks like a host.
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let registry = hasRegistry ? first : DOCKER_HUB;
  let repository = hasRegistry ? rest.slice(slash + 1) : rest;
  if (registry === 'docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!REGISTRY.test(registry)) throw fail(`"${registry}" is not a registry host[:port]`);
  if (!REPOSITORY.test(repository))
    throw fail('the repository must be lowercase letters and digits, separated by /, ., _, __ or -');
  return { registry, repository, ...(tag === undefined && digest === undefined ? { tag: 'latest' } : { tag }), digest };
}

/** registry/repository: what a digest reference starts with. */
export const repositoryOf = (ref: ImageReference) => `${ref.registry}/${ref.repository}`;
