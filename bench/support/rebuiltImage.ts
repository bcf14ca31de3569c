// A new build of an image already in a registry, for the fault suite's `helm upgrade`: the same
// layers under a config with one more label, so the registry holds another image (another config
// and manifest digest) under a new tag, as a rebuild of unchanged sources with a new build stamp
// would give, without the minute a real rebuild costs on this machine.
import { createHash } from 'node:crypto';
import { describeFailure, registryBase, type RegistryClient } from '../../lib/oci/client.ts';
import { parseImageReference } from '../../lib/oci/reference.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface Manifest {
  mediaType?: string;
  config: { mediaType: string; digest: string; size: number };
  layers: unknown[];
}

/** Adds label to the config of image (registry/repository:tag) and pushes the result as newTag; returns its reference. */
export async function pushRebuiltImage(
  client: RegistryClient,
  image: string,
  newTag: string,
  label: [string, string],
): Promise<string> {
  const ref = parseImageReference(image);
  if (!ref.tag) throw new Error(`rebuild ${image}: name the image by tag`);
  const repo = `${registryBase(ref.registry)}/${ref.repository}`;
  const get = async (url: string, accept: string) => {
    const res = await client.request(url, { method: 'GET', headers: { accept } });
    if (res.status !== 200) throw new Error(`rebuild ${image}: ${describeFailure('GET', url, res)}`);
    return res.body;
  };
  const manifest = JSON.parse((await get(`${repo}/manifests/${ref.tag}`, OCI_MANIFEST)).toString('utf8')) as Manifest;
  if ((manifest.mediaType ?? OCI_MANIFEST) !== OCI_MANIFEST)
    throw new Error(`rebuild ${image}: an OCI image manifest was expected, not ${manifest.mediaType}`);
  const config = JSON.parse((await get(`${repo}/blobs/${manifest.config.digest}`, '*/*')).toString('utf8')) as {
    config?: { Labels?: Record<string, string> };
  };
  config.config = { ...config.config, Labels: { ...config.config?.Labels, [label[0]]: label[1] } };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;

  const started = await client.request(`${repo}/blobs/uploads/`, { method: 'POST' });
  const location = started.headers.location;
  if (started.status !== 202 || !location)
    throw new Error(`rebuild ${image}: ${describeFailure('POST', `${repo}/blobs/uploads/`, started)}`);
  const upload = new URL(location, `${repo}/`);
  upload.searchParams.set('digest', configDigest);
  const put = await client.request(upload.toString(), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: configBytes,
  });
  if (put.status !== 201) throw new Error(`rebuild ${image}: ${describeFailure('PUT', upload.pathname, put)}`);

  const rebuilt = { ...manifest, config: { ...manifest.config, digest: configDigest, size: configBytes.length } };
  const putManifest = await client.request(`${repo}/manifests/${newTag}`, {
    method: 'PUT',
    headers: { 'content-type': OCI_MANIFEST },
    body: Buffer.from(JSON.stringify(rebuilt)),
  });
  if (putManifest.status !== 201)
    throw new Error(`rebuild ${image}: ${describeFailure('PUT', `${repo}/manifests/${newTag}`, putManifest)}`);
  return `${ref.registry}/${ref.repository}:${newTag}`;
}
