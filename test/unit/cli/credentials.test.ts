import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerConfigOf, dockerConfigPath, dockerCredentials } from '../../../cli/images/credentials.ts';

const dir = mkdtempSync(join(tmpdir(), 'pilotlight-docker-config-'));
const config = (content: object | string) => {
  const path = join(dir, 'config.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const auth = (text: string) => Buffer.from(text).toString('base64');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("docker's config.json", () => {
  it('is $DOCKER_CONFIG/config.json, else ~/.docker/config.json', () => {
    expect(dockerConfigPath({ DOCKER_CONFIG: '/etc/docker-login' })).toBe('/etc/docker-login/config.json');
    expect(dockerConfigPath({})).toMatch(/\/\.docker\/config\.json$/);
  });

  it('gives the auths entry of a host, however docker wrote its key', () => {
    const path = config({
      auths: {
        'https://index.docker.io/v1/': { auth: auth('hub:pass:with:colons') },
        'registry.example.com:5000': { username: 'u', password: 'p' },
        'ghcr.io': {},
      },
    });
    expect(dockerCredentials('registry-1.docker.io', path)).toEqual({ username: 'hub', password: 'pass:with:colons' });
    expect(dockerCredentials('docker.io', path)).toEqual({ username: 'hub', password: 'pass:with:colons' });
    expect(dockerCredentials('registry.example.com:5000', path)).toEqual({ username: 'u', password: 'p' });
    expect(dockerCredentials('registry.example.com', path)).toBeUndefined();
    expect(dockerCredentials('ghcr.io', path)).toBeUndefined();
    expect(dockerCredentials('ghcr.io', join(dir, 'missing.json'))).toBeUndefined();
  });

  it('names what it cannot use', () => {
    expect(() => dockerCredentials('ghcr.io', config({ auths: { 'ghcr.io': { identitytoken: 't' } } }))).toThrow(
      'auths["ghcr.io"]: identity tokens are not supported',
    );
    expect(() => dockerCredentials('ghcr.io', config({ auths: { 'ghcr.io': { auth: auth('nocolon') } } }))).toThrow(
      'auths["ghcr.io"].auth: must be base64 of username:password',
    );
    expect(() => dockerCredentials('ghcr.io', config('{'))).toThrow('not a docker config');
    expect(() =>
      dockerCredentials('ghcr.io', config({ credHelpers: { 'ghcr.io': 'surely-not-installed-here' } })),
    ).toThrow('the docker config names the credential helper docker-credential-surely-not-installed-here, not on PATH');
  });

  it('writes one login as docker and helm read it', () => {
    const path = config(dockerConfigOf('10.0.0.1:5000', { username: 'a', password: 'b:c' }));
    expect(dockerCredentials('10.0.0.1:5000', path)).toEqual({ username: 'a', password: 'b:c' });
  });
});
