import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createDigestResolver,
  hasContainerStatuses,
  resolveContainerStatuses,
  type DigestResolver,
} from '../../../controllers/revision/digests.ts';
import type { RegistryClient, RegistryRequest, RegistryResponse } from '../../../lib/oci/client.ts';

const options = { registriesSkippingTagResolving: ['kind.local', 'ko.local', 'dev.local'], timeoutMs: 5_000 };
const digest = `sha256:${'d'.repeat(64)}`;

/** A registry client answering from a script, recording what it was asked. */
function scripted(answer: (url: string, request: RegistryRequest) => Partial<RegistryResponse>) {
  const asked: string[] = [];
  const client: RegistryClient = {
    request: async (url, request) => {
      asked.push(
        `${request.method} ${url}${request.headers?.authorization ? ` (${request.headers.authorization})` : ''}`,
      );
      return { status: 200, headers: {}, body: Buffer.alloc(0), ...answer(url, request) };
    },
  };
  return { client, asked };
}

describe('createDigestResolver', () => {
  it("resolves a tag with HEAD, accepting OCI and Docker manifests, to the repository's digest", async () => {
    const { client, asked } = scripted((_url, request) => {
      expect(request.headers?.accept).toContain('application/vnd.oci.image.index.v1+json');
      expect(request.headers?.accept).toContain('application/vnd.docker.distribution.manifest.v2+json');
      return { headers: { 'docker-content-digest': digest } };
    });
    expect(await createDigestResolver(client)('registry.example.com/team/app:1', options)).toBe(
      `registry.example.com/team/app@${digest}`,
    );
    expect(asked).toEqual(['HEAD https://registry.example.com/v2/team/app/manifests/1']);
  });

  it('leaves skipped registries and images given by digest alone, asking nothing', async () => {
    const { client, asked } = scripted(() => ({ status: 500 }));
    const resolve = createDigestResolver(client);
    expect(await resolve('dev.local/app:1', options)).toBeUndefined();
    expect(await resolve(`registry.example.com/app@${digest}`, options)).toBe(`registry.example.com/app@${digest}`);
    expect(asked).toEqual([]);
  });

  it('answers a bearer challenge with an anonymous pull token', async () => {
    const { client, asked } = scripted((url, request) => {
      if (url.startsWith('https://auth.example.com/')) return { body: Buffer.from('{"token":"t0k"}') };
      if (!request.headers?.authorization)
        return {
          status: 401,
          headers: { 'www-authenticate': 'Bearer realm="https://auth.example.com/token",service="reg"' },
        };
      return { headers: { 'docker-content-digest': digest } };
    });
    expect(await createDigestResolver(client)('registry.example.com/app:1', options)).toBe(
      `registry.example.com/app@${digest}`,
    );
    expect(asked).toEqual([
      'HEAD https://registry.example.com/v2/app/manifests/1',
      'GET https://auth.example.com/token?service=reg&scope=repository%3Aapp%3Apull',
      'HEAD https://registry.example.com/v2/app/manifests/1 (Bearer t0k)',
    ]);
  });

  it('hashes the manifest itself when the registry names no digest', async () => {
    const manifest = Buffer.from('{"schemaVersion":2}');
    const { client } = scripted((_url, request) => (request.method === 'GET' ? { body: manifest } : {}));
    expect(await createDigestResolver(client)('registry.example.com/app:1', options)).toBe(
      `registry.example.com/app@sha256:${createHash('sha256').update(manifest).digest('hex')}`,
    );
  });
});

describe('resolveContainerStatuses', () => {
  const resolve: DigestResolver = async (image) =>
    image.startsWith('dev.local/') ? undefined : `${image.split(':')[0]}@${digest}`;

  it('gives every container, init containers too, a status with the digest it resolved to', async () => {
    expect(
      await resolveContainerStatuses(
        {
          containers: [
            { name: 'user-container', image: 'r.example.com/app:1' },
            { name: 'sidecar', image: 'dev.local/side:1' },
          ],
          initContainers: [{ name: 'setup', image: 'r.example.com/init:1' }],
        },
        resolve,
        options,
      ),
    ).toEqual({
      containerStatuses: [{ name: 'user-container', imageDigest: `r.example.com/app@${digest}` }, { name: 'sidecar' }],
      initContainerStatuses: [{ name: 'setup', imageDigest: `r.example.com/init@${digest}` }],
    });
  });

  it("fails with Knative's ContainerMissing message naming the image and the error", async () => {
    const failing: DigestResolver = async () => {
      throw new Error('GET https://r.example.com/v2/app/manifests/1: unexpected status code 404');
    };
    await expect(
      resolveContainerStatuses(
        { containers: [{ name: 'user-container', image: 'r.example.com/app:1' }] },
        failing,
        options,
      ),
    ).rejects.toThrow(
      'Unable to fetch image "r.example.com/app:1": failed to resolve image to digest: GET https://r.example.com/v2/app/manifests/1: unexpected status code 404',
    );
  });
});

describe('hasContainerStatuses', () => {
  it('is true once there is a status per container, as upstream counts them', () => {
    const spec = { containers: [{ name: 'a' }, { name: 'b' }], initContainers: [{ name: 'i' }] };
    expect(hasContainerStatuses({}, spec)).toBe(false);
    expect(hasContainerStatuses({ containerStatuses: [{}, {}] }, spec)).toBe(false);
    expect(hasContainerStatuses({ containerStatuses: [{}, {}], initContainerStatuses: [{}] }, spec)).toBe(true);
  });
});
