// A thin JSON client for any API path, through one keep-alive undici Agent per API server, so one
// code path serves core kinds, apps kinds and our CRDs alike.
import type { KubernetesObject } from '@kubernetes/client-node';
import { Agent, fetch } from 'undici';
import { bearer, type KubeConnection } from './kubeconfig.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string | undefined;

  constructor(code: number, message: string, reason?: string) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Defaults to application/json; patches name their flavour here. */
  contentType?: string;
  signal?: AbortSignal;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T extends KubernetesObject = KubernetesObject> {
  type: WatchEventType;
  object: T;
}

export interface KubeRest {
  request<T>(method: HttpMethod, path: string, options?: RequestOptions): Promise<T>;
  /** Opens a watch and yields its events until the server ends the stream or signal aborts. */
  watch<T extends KubernetesObject>(path: string, options?: RequestOptions): AsyncIterable<WatchEvent<T>>;
}

export function createKubeRest(connection: KubeConnection): KubeRest {
  const server = connection.server.replace(/\/$/, '');
  // One pool for every request and watch: TLS handshakes once per connection, not per call.
  const dispatcher = new Agent({
    connect: {
      ...(connection.ca ? { ca: connection.ca } : {}),
      ...(connection.clientCertificate ? { cert: connection.clientCertificate, key: connection.clientKey } : {}),
      rejectUnauthorized: !connection.insecureSkipTLSVerify,
    },
    keepAliveTimeout: 30_000,
    // Watches hold their connection for minutes; the Informer's own watchdog ends silent ones.
    bodyTimeout: 0,
  });
  const send = async (method: HttpMethod, path: string, options: RequestOptions) => {
    const url = new URL(server + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    const authorization = bearer(connection);
    if (authorization) headers.authorization = authorization;
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      dispatcher,
      signal: options.signal,
    });
    if (!response.ok) {
      const text = await response.text();
      throw errorFromStatus(response.status, text);
    }
    return response;
  };

  return {
    async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
      const response = await send(method, path, options);
      return (await response.json()) as T;
    },

    async *watch<T extends KubernetesObject>(path: string, options: RequestOptions = {}): AsyncIterable<WatchEvent<T>> {
      const response = await send('GET', path, { ...options, query: { ...options.query, watch: 'true' } });
      if (!response.body) return;
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of response.body) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) yield JSON.parse(line) as WatchEvent<T>;
          newline = buffered.indexOf('\n');
        }
      }
    },
  };
}

function errorFromStatus(code: number, body: string): KubeApiError {
  try {
    const status = JSON.parse(body) as { message?: string; reason?: string };
    return new KubeApiError(code, status.message ?? `HTTP ${code}`, status.reason);
  } catch {
    return new KubeApiError(code, body || `HTTP ${code}`);
  }
}
