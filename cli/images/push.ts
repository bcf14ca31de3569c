// Pushes an OCI archive written by cli/images/oci.ts to a registry through the OCI distribution API: each
// blob the registry lacks (HEAD) is uploaded in one piece (POST, then PUT with its digest), then
// the manifest is put under the tag. Anonymous: the local cluster's registry asks for no login.
import { execFile } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeFailure, registryBase, type RegistryClient } from '../../lib/oci/client.ts';
import { parseImageReference } from '../../lib/oci/reference.ts';

const run = promisify(execFile);

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * Pushes the image of archive as reference (registry/repository:tag), and under alsoTags in the
 * same repository; returns the manifest digest.
 */
export async function pushOciArchive(
  client: RegistryClient,
  archive: string,
  reference: string,
  alsoTags: readonly string[] = [],
): Promise<string> {
  const ref = parseImageReference(reference);
  if (!ref.tag || ref.digest) throw new Error(`push ${reference}: name the image by tag, without a digest`);
  const layout = mkdtempSync(join(tmpdir(), 'pilotlight-push-'));
  try {
    await run('tar', ['-xf', archive, '-C', layout]);
    const blobPath = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    const top = index.manifests[0];
    if (!top || index.manifests.length !== 1)
      throw new Error(`push ${reference}: ${archive} must hold exactly one manifest`);
    const manifestBytes = readFileSync(blobPath(top.digest));
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
    const repo = `${registryBase(ref.registry)}/${ref.repository}`;
    for (const blob of [manifest.config, ...manifest.layers]) {
      const head = await client.request(`${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
      if (head.status === 200) continue;
      const started = await client.request(`${repo}/blobs/uploads/`, { method: 'POST' });
      const location = started.headers.location;
      if (started.status !== 202 || !location)
        throw new Error(`push ${reference}: ${describeFailure('POST', `${repo}/blobs/uploads/`, started)}`);
      const upload = new URL(location, `${repo}/`);
      upload.searchParams.set('digest', blob.digest);
      const path = blobPath(blob.digest);
      const put = await client.request(upload.toString(), {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: { stream: () => createReadStream(path), contentLength: statSync(path).size },
      });
      if (put.status !== 201) throw new Error(`push ${reference}: ${describeFailure('PUT', upload.pathname, put)}`);
    }
    for (const tag of [ref.tag, ...alsoTags]) {
      const put = await client.request(`${repo}/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'content-type': top.mediaType },
        body: manifestBytes,
      });
      if (put.status !== 201)
        throw new Error(`push ${reference}: ${describeFailure('PUT', `${repo}/manifests/${tag}`, put)}`);
    }
    return top.digest;
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
