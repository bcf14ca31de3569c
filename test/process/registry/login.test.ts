// Pushing to a registry that wants a login: the CNCF distribution registry (the node's, cli/cluster/
// registry.ts) with htpasswd auth, as a real process over TLS. The registry provisions its own user
// `docker` with a random password when its htpasswd file is missing and logs that password once,
// which is the login these tests use. Credentials come as users keep them: docker's config.json
// (an `auths` entry, a credential helper) or `pilotlight image push --username --password-stdin`.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ensureTool } from '../../../cli/cluster/binaries.ts';
import { repoRoot } from '../../../cli/cluster/paths.ts';
import { freePort, isRunning, startProcess, stopProcesses } from '../../../cli/cluster/processes.ts';
import { pingRegistry, registryConfig } from '../../../cli/cluster/registry.ts';
import { dockerConfigOf, dockerCredentials } from '../../../cli/images/credentials.ts';
import { pushOciArchive } from '../../../cli/images/push.ts';
import {
  MANIFEST_MEDIA_TYPES,
  authenticatingClient,
  createRegistryClient,
  type RegistryCredentials,
} from '../../../lib/oci/client.ts';
import { createCertificateAuthority } from '../../../lib/pki.ts';
import { writeTestImage } from '../../support/ociImage.ts';

describe('a registry that wants a login', () => {
  let unavailable: string | undefined;
  const stateDir = mkdtempSync(join(tmpdir(), 'pilotlight-registry-login-'));
  let host = '';
  let ca = '';
  let caFile = '';
  let archive = '';
  let login: RegistryCredentials = { username: '', password: '' };

  const client = (credentialsFor: (host: string) => RegistryCredentials | undefined) =>
    authenticatingClient(createRegistryClient([ca]), credentialsFor);
  /** The manifest digest the registry serves for reference, read with the login. */
  const servedDigest = async (repository: string, tag: string) => {
    const response = await client(() => login).request(`https://${host}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
    });
    return { status: response.status, digest: response.headers['docker-content-digest'] };
  };

  beforeAll(async () => {
    const binary = await ensureTool('registry').catch((error: Error) => {
      unavailable = `the registry could not be built (hack/build-tool.sh registry): ${error.message}`;
    });
    if (!binary) return;
    const authority = await createCertificateAuthority('registry-login-test-ca');
    ca = authority.certificate;
    caFile = join(stateDir, 'ca.crt');
    writeFileSync(caFile, ca);
    host = `127.0.0.1:${await freePort()}`;
    const serving = await authority.issue({ commonName: 'registry', ipAddresses: ['127.0.0.1'], usage: 'server' });
    writeFileSync(join(stateDir, 'tls.crt'), serving.certificate);
    writeFileSync(join(stateDir, 'tls.key'), serving.privateKey, { mode: 0o600 });
    const config = parse(
      registryConfig({
        address: host,
        storageDir: join(stateDir, 'data'),
        certificateFile: join(stateDir, 'tls.crt'),
        keyFile: join(stateDir, 'tls.key'),
      }),
    ) as Record<string, unknown>;
    config.auth = { htpasswd: { realm: 'pilotlight-test', path: join(stateDir, 'htpasswd') } };
    writeFileSync(join(stateDir, 'config.yml'), stringify(config));
    const registry = startProcess(stateDir, 'registry', binary, ['serve', join(stateDir, 'config.yml')], {
      OTEL_TRACES_EXPORTER: 'none',
    });
    // Up once /v2/ answers, refusing: 401 with a Basic challenge.
    for (let attempt = 0; attempt < 200; attempt++) {
      if (!isRunning(registry.pid, binary))
        throw new Error(`the registry exited: ${readFileSync(registry.log, 'utf8')}`);
      if ((await pingRegistry(host, ca).catch(() => 0)) === 401) break;
      await sleep(100);
    }
    const password = /password="?([\w-]+)"?/.exec(readFileSync(registry.log, 'utf8'))?.[1];
    if (!password)
      throw new Error(`the registry logged no provisioned password: ${readFileSync(registry.log, 'utf8')}`);
    login = { username: 'docker', password };
    archive = await writeTestImage(stateDir);
  }, 900_000);

  afterAll(async () => {
    await stopProcesses(stateDir, ['registry']);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('refuses an anonymous push, and a wrong password, saying so', async (t) => {
    if (unavailable) return t.skip(unavailable);
    await expect(
      pushOciArchive(
        client(() => undefined),
        archive,
        `${host}/team/app:1`,
      ),
    ).rejects.toThrow(`the registry asks for a login (Basic realm="pilotlight-test") and none is given for ${host}`);
    await expect(
      pushOciArchive(
        client(() => ({ username: 'docker', password: 'wrong' })),
        archive,
        `${host}/team/app:1`,
      ),
    ).rejects.toThrow(`the registry refused the login for ${host} (401)`);
    expect((await servedDigest('team/app', '1')).status).toBe(404);
  });

  it("pushes with the login of docker's config.json: an auths entry, or a credential helper", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const configDir = join(stateDir, 'docker');
    mkdirSync(configDir, { recursive: true });
    const configFile = join(configDir, 'config.json');
    // As `docker login` writes it, beside another registry's entry.
    writeFileSync(
      configFile,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('someone:else').toString('base64') },
          ...JSON.parse(dockerConfigOf(host, login)).auths,
        },
      }),
    );
    expect(dockerCredentials(host, configFile)).toEqual(login);
    const pushed = await pushOciArchive(
      client((of) => dockerCredentials(of, configFile)),
      archive,
      `${host}/team/app:1`,
    );
    expect(await servedDigest('team/app', '1')).toEqual({ status: 200, digest: pushed });

    // credHelpers: docker-credential-<name> get, the host on stdin, {Username, Secret} on stdout.
    const bin = join(stateDir, 'bin');
    mkdirSync(bin, { recursive: true });
    const helper = join(bin, 'docker-credential-pilotlight-test');
    writeFileSync(
      helper,
      [
        '#!/bin/sh',
        'read -r server',
        `if [ "$1" = get ] && [ "$server" = "${host}" ]; then`,
        `  printf '{"ServerURL":"%s","Username":"docker","Secret":"${login.password}"}' "$server"`,
        'else echo "credentials not found in native keychain"; exit 1; fi',
      ].join('\n'),
    );
    chmodSync(helper, 0o755);
    writeFileSync(configFile, JSON.stringify({ auths: {}, credHelpers: { [host]: 'pilotlight-test' } }));
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      expect(dockerCredentials(host, configFile)).toEqual(login);
      expect(
        await pushOciArchive(
          client((of) => dockerCredentials(of, configFile)),
          archive,
          `${host}/team/helped:1`,
        ),
      ).toBe(pushed);
      writeFileSync(configFile, JSON.stringify({ credsStore: 'pilotlight-test' }));
      expect(dockerCredentials('other.example.com', configFile)).toBeUndefined();
    } finally {
      process.env.PATH = path;
    }
    expect(await servedDigest('team/helped', '1')).toEqual({ status: 200, digest: pushed });
  });

  it('`pilotlight image push --username --password-stdin` pushes the image and, through helm, the chart', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const cli = execFile(
      process.execPath,
      [
        join(repoRoot, 'cli', 'main.ts'),
        'image',
        'push',
        '--to',
        `${host}/acme`,
        '--version',
        '1.2.3-test',
        '--ca-file',
        caFile,
        '--no-samples',
        '--username',
        login.username,
        '--password-stdin',
      ],
      // No docker config to fall back on: the login is the one given.
      { env: { ...process.env, DOCKER_CONFIG: join(stateDir, 'no-docker') }, maxBuffer: 16 * 1024 * 1024 },
    );
    cli.stdin?.end(`${login.password}\n`);
    const exitCode = await new Promise<number | null>((resolve) => cli.on('exit', resolve));
    expect(exitCode).toBe(0);
    expect((await servedDigest('acme/pilotlight/pilotlight', '1.2.3-test')).status).toBe(200);
    // helm stores a chart as an OCI artifact under its version.
    expect((await servedDigest('acme/charts/pilotlight', '1.2.3-test')).status).toBe(200);
  }, 600_000);
});
