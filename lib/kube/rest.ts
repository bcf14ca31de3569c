// A thin JSON client for any API path: client-node supplies kubeconfig, TLS and auth; requests go
// through undici so one code path serves core kinds, apps kinds and our CRDs alike.
import { HttpMethod, KubeConfig, RequestContext, type KubernetesObject } from '@kubernetes/client-node';
import { fetch } from 'undici';

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

export function loadKubeConfig(file?: string): KubeConfig {
  const config = new KubeConfig();
  if (file) config.loadFromFile(file);
  else config.loadFromDefault();
  return config;
}

export function createKubeRest(config: KubeConfig): KubeRest {
  const send = async (method: HttpMethod, path: string, options: RequestOptions) => {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const context = new RequestContext(url.toString(), method);
    await config.applySecurityAuthentication(context);
    const headers: Record<string, string> = { ...context.getHeaders(), accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      dispatcher: context.getDispatcher(),
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
      return await response.json() as T;
    },

    async *watch<T extends KubernetesObject>(path: string, options: RequestOptions = {}): AsyncIterable<WatchEvent<T>> {
      const response = await send(HttpMethod.GET, path, { ...options, query: { ...options.query, watch: 'true' } });
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
