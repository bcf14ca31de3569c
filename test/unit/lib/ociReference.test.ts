import { describe, expect, it } from 'vitest';
import { describeFailure, parseBearerChallenge } from '../../../lib/oci/client.ts';
import { parseImageReference, repositoryOf } from '../../../lib/oci/reference.ts';

const digest = `sha256:${'c'.repeat(64)}`;

describe('parseImageReference', () => {
  it('reads registry, repository and tag, with Docker Hub and latest as the defaults', () => {
    expect(parseImageReference('10.245.0.1:5000/knative-serving-tests/helloworld:v1')).toEqual({
      registry: '10.245.0.1:5000',
      repository: 'knative-serving-tests/helloworld',
      tag: 'v1',
      digest: undefined,
    });
    expect(parseImageReference('nginx')).toMatchObject({
      registry: 'index.docker.io',
      repository: 'library/nginx',
      tag: 'latest',
    });
    expect(parseImageReference('docker.io/knative/app:1')).toMatchObject({
      registry: 'index.docker.io',
      repository: 'knative/app',
    });
    expect(parseImageReference('localhost/app:2')).toMatchObject({
      registry: 'localhost',
      repository: 'app',
      tag: '2',
    });
    // A first component without a dot, colon or "localhost" is part of the repository.
    expect(parseImageReference('team/app')).toMatchObject({ registry: 'index.docker.io', repository: 'team/app' });
    expect(parseImageReference('dev.local/pilotlight/helloworld:1').registry).toBe('dev.local');
  });

  it('keeps a digest, with or without a tag beside it', () => {
    expect(parseImageReference(`ghcr.io/knative/app@${digest}`)).toEqual({
      registry: 'ghcr.io',
      repository: 'knative/app',
      tag: undefined,
      digest,
    });
    expect(parseImageReference(`ghcr.io/knative/app:1@${digest}`)).toMatchObject({ tag: '1', digest });
    expect(repositoryOf(parseImageReference('ghcr.io/knative/app:1'))).toBe('ghcr.io/knative/app');
  });

  it('refuses bad references, naming the reference and the rule', () => {
    expect(() => parseImageReference('ghcr.io/Knative/app:1')).toThrow(
      'could not parse image reference "ghcr.io/Knative/app:1": the repository must be lowercase',
    );
    expect(() => parseImageReference('app@sha256:abc')).toThrow('the digest must be sha256: followed by 64');
    expect(() => parseImageReference('app:-1')).toThrow('a tag is up to 128');
    expect(() => parseImageReference('')).toThrow('the repository must be');
  });
});

describe('registry client helpers', () => {
  it('reads a bearer challenge and ignores other schemes', () => {
    expect(
      parseBearerChallenge(
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:knative/app:pull"',
      ),
    ).toEqual({ realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:knative/app:pull' });
    expect(parseBearerChallenge('Basic realm="registry"')).toBeUndefined();
    expect(parseBearerChallenge('Bearer service="x"')).toBeUndefined();
    expect(parseBearerChallenge(undefined)).toBeUndefined();
  });

  it("describes a failure with the registry's error codes when it gives them", () => {
    const body = Buffer.from(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    expect(describeFailure('GET', 'https://r/v2/a/manifests/1', { status: 404, headers: {}, body })).toBe(
      'GET https://r/v2/a/manifests/1: unexpected status code 404 (MANIFEST_UNKNOWN: manifest unknown)',
    );
    expect(describeFailure('GET', 'https://r/v2/', { status: 502, headers: {}, body: Buffer.from('<html>') })).toBe(
      'GET https://r/v2/: unexpected status code 502',
    );
  });
});
