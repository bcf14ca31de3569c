// Registry logins where users already keep them for docker, crane and helm: docker's config.json
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), its `auths` entries and its credential
// helpers (`credHelpers` by host, `credsStore` for all), as go-containerregistry's default
// keychain reads them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RegistryCredentials } from '../../lib/oci/client.ts';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export const dockerConfigPath = (env: NodeJS.ProcessEnv = process.env) =>
  join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');

/** Docker Hub's names all share the login docker stores under its legacy index address. */
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const canonicalHost = (host: string) => (DOCKER_HUB.has(host) ? 'index.docker.io' : host);

/** The host an `auths` key names: docker writes host[:port], with or without a scheme and path. */
const keyHost = (key: string) => canonicalHost(key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, ''));

/** `docker-credential-<helper> get`: the server's address on stdin, `{Username, Secret}` on stdout. */
function fromHelper(helper: string, host: string): RegistryCredentials | undefined {
  const program = `docker-credential-${helper}`;
  let out: string;
  try {
    out = execFileSync(program, ['get'], { input: host, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    const { code, stdout } = error as { code?: string; stdout?: string };
    if (code === 'ENOENT') throw new Error(`the docker config names the credential helper ${program}, not on PATH`);
    // Helpers answer a host they hold nothing for with a non-zero exit and this text.
    if (/credentials not found/i.test(stdout ?? '')) return undefined;
    throw new Error(`${program} get ${host} failed: ${(stdout ?? '').trim() || (error as Error).message}`);
  }
  const { Username, Secret } = JSON.parse(out) as { Username?: string; Secret?: string };
  if (!Username || !Secret) return undefined;
  if (Username === '<token>')
    throw new Error(`${program} holds an identity token for ${host}; log in with a password or access token instead`);
  return { username: Username, password: Secret };
}

function fromAuthEntry(entry: AuthEntry, where: string): RegistryCredentials | undefined {
  if (entry.identitytoken)
    throw new Error(`${where}: identity tokens are not supported; log in with a password or access token instead`);
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new Error(`${where}.auth: must be base64 of username:password`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The login the docker config at path holds for host (host[:port]), or undefined. */
export function dockerCredentials(host: string, path = dockerConfigPath()): RegistryCredentials | undefined {
  if (!existsSync(path)) return undefined;
  let config: DockerConfig;
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as DockerConfig;
  } catch (error) {
    throw new Error(`${path}: not a docker config: ${(error as Error).message}`);
  }
  const wanted = canonicalHost(host);
  const helper = Object.entries(config.credHelpers ?? {}).find(([key]) => keyHost(key) === wanted)?.[1];
  if (helper) return fromHelper(helper, host);
  const fromStore = config.credsStore ? fromHelper(config.credsStore, host) : undefined;
  if (fromStore) return fromStore;
  const entry = Object.entries(config.auths ?? {}).find(([key]) => keyHost(key) === wanted);
  return entry && fromAuthEntry(entry[1], `${path}: auths["${entry[0]}"]`);
}

/** A docker config.json of one login, the format helm's --registry-config reads too. */
export const dockerConfigOf = (host: string, credentials: RegistryCredentials) =>
  JSON.stringify({
    auths: { [host]: { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') } },
  });
