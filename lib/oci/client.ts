// The few HTTPS requests the OCI distribution API needs (tag resolution, pushes), with the
// registry's CA added to the system roots when it has a private one.
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

/** Manifest media types a client accepts: OCI and Docker, single-platform and index. */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  /** A buffer, or a stream of contentLength bytes. */
  body?: Buffer | { stream: () => Readable; contentLength: number };
  signal?: AbortSignal;
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RegistryClient {
  request(url: string, options: RegistryRequest): Promise<RegistryResponse>;
}

/** A client trusting the system roots plus extraCertificates (PEM), e.g. the cluster's CA. */
export function createRegistryClient(extraCertificates: string[] = []): RegistryClient {
  const ca = extraCertificates.length > 0 ? [...rootCertificates, ...extraCertificates] : undefined;
  return {
    request: (url, options) =>
      new Promise((resolve, reject) => {
        const body = options.body;
        const contentLength = body === undefined ? 0 : Buffer.isBuffer(body) ? body.length : body.contentLength;
        const req = request(
          url,
          {
            method: options.method,
            headers: {
              ...options.headers,
              ...(options.method === 'PUT' || options.method === 'POST' ? { 'content-length': contentLength } : {}),
            },
            ...(ca ? { ca } : {}),
            signal: options.signal,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
          },
        );
        req.on('error', reject);
        if (body === undefined) req.end();
        else if (Buffer.isBuffer(body)) req.end(body);
        else body.stream().on('error', reject).pipe(req);
      }),
  };
}

/** The registry's own account of a failed request: its error codes and messages, else the status. */
export function describeFailure(method: string, url: string, response: RegistryResponse): string {
  let detail = '';
  try {
    const errors = (JSON.parse(response.body.toString('utf8')) as { errors?: { code?: string; message?: string }[] })
      .errors;
    detail = (errors ?? []).map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ');
  } catch {
    // Not the JSON error body the distribution spec describes: the status says it all.
  }
  return `${method} ${url}: unexpected status code ${response.status}${detail ? ` (${detail})` : ''}`;
}

/** The v2 API base of a registry host. */
export const registryBase = (registry: string) => `https://${registry}/v2`;

export interface BearerChallenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`, or undefined for other schemes. */
export function parseBearerChallenge(header: string | undefined): BearerChallenge | undefined {
  const match = header === undefined ? null : /^Bearer\s+(.*)$/i.exec(header.trim());
  if (!match) return undefined;
  const params = Object.fromEntries(
    [...match[1]!.matchAll(/([a-zA-Z]+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]),
  );
  if (!params.realm) return undefined;
  return { realm: params.realm, service: params.service, scope: params.scope };
}

/** A login to a registry, as `docker login` or a docker config.json `auths` entry holds it. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

const basic = (credentials: RegistryCredentials) =>
  `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;

/**
 * A token from the realm a registry's challenge names, for scope (the challenge's own scope when it
 * gives one): anonymous, or logged in with credentials as the token server asks (Basic).
 */
export async function bearerToken(
  client: RegistryClient,
  challenge: BearerChallenge,
  scope: string | undefined,
  credentials?: RegistryCredentials,
  signal?: AbortSignal,
): Promise<string> {
  const url = new URL(challenge.realm);
  if (challenge.service) url.searchParams.set('service', challenge.service);
  const wanted = challenge.scope ?? scope;
  if (wanted) url.searchParams.set('scope', wanted);
  const response = await client.request(url.toString(), {
    method: 'GET',
    headers: credentials ? { authorization: basic(credentials) } : {},
    signal,
  });
  if (response.status !== 200) throw new Error(describeFailure('GET', url.toString(), response));
  const { token, access_token } = JSON.parse(response.body.toString('utf8')) as {
    token?: string;
    access_token?: string;
  };
  const found = token ?? access_token;
  if (!found) throw new Error(`GET ${url}: the answer holds no token`);
  return found;
}

/** An anonymous token for pulling repository, from the realm the registry's challenge names. */
export const anonymousPullToken = (
  client: RegistryClient,
  challenge: BearerChallenge,
  repository: string,
  signal?: AbortSignal,
): Promise<string> => bearerToken(client, challenge, `repository:${repository}:pull`, undefined, signal);

/**
 * client, logged in to registries as the docker CLI is: a request refused with 401 is sent once
 * more with what the challenge asks, `Basic` credentials or a `Bearer` token got with them, which
 * later requests to that host then carry from the start. credentialsFor(host) gives the login for
 * a host (host:port); without one, a Bearer challenge is answered with an anonymous token.
 */
export function authenticatingClient(
  client: RegistryClient,
  credentialsFor: (host: string) => RegistryCredentials | undefined,
): RegistryClient {
  const authorizations = new Map<string, string>();
  return {
    async request(url, options) {
      const host = new URL(url).host;
      const send = (authorization: string | undefined) =>
        client.request(
          url,
          authorization === undefined ? options : { ...options, headers: { ...options.headers, authorization } },
        );
      const response = await send(authorizations.get(host));
      if (response.status !== 401) return response;
      const credentials = credentialsFor(host);
      const challenge = headerOf(response, 'www-authenticate') ?? '';
      const bearer = parseBearerChallenge(challenge);
      let authorization: string;
      if (bearer) authorization = `Bearer ${await bearerToken(client, bearer, undefined, credentials, options.signal)}`;
      else if (/^Basic\b/i.test(challenge) && credentials) authorization = basic(credentials);
      else
        throw new Error(
          `${options.method} ${url}: the registry asks for a login (${challenge || 'no challenge'}) and none is given for ${host}`,
        );
      authorizations.set(host, authorization);
      const retried = await send(authorization);
      if (retried.status === 401)
        throw new Error(`${options.method} ${url}: the registry refused the login for ${host} (401)`);
      return retried;
    },
  };
}

/** A response header's (first) value. */
export function headerOf(response: RegistryResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
