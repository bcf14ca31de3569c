// The user container's readiness probes, which the reconciler strips from the user container
// and hands to queue-proxy as JSON in SERVING_READINESS_PROBE (S:pkg/queue/readiness/probe.go).
import { connect } from 'node:net';
import { http } from '../lib/http/builtins.ts';
import { PROBE_USER_AGENTS } from '../lib/hop.ts';

export interface ReadinessProbe {
  /** gRPC and exec probes are checked as TCP on their port: queue-proxy runs no commands and speaks no gRPC health. */
  kind: 'http' | 'tcp';
  host: string;
  port: number;
  path: string;
  headers: Record<string, string>;
  /** Per attempt, once the container has been ready. */
  timeoutMs: number;
  /** 0 selects Knative's aggressive probing. */
  periodSeconds: number;
  successThreshold: number;
}

// The probe JSON is checked by hand rather than with zod: queue-proxy runs in every pod, and
// loading zod would cost each one ≈15 MiB for two small objects.

/** A Kubernetes probe as the reconciler serialises it; only the fields queue-proxy reads. */
interface ProbeSpec {
  httpGet?: { host?: string; port: number; path?: string; httpHeaders?: Array<{ name: string; value: string }> };
  tcpSocket?: { host?: string; port: number };
  grpc?: { port?: number };
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
}

type Fields = Record<string, unknown>;

class SpecReader {
  readonly issues: string[] = [];

  object(value: unknown, path: string): Fields | undefined {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Fields;
    this.issues.push(`${path || '(root)'}: must be an object`);
    return undefined;
  }

  optionalString(fields: Fields, key: string, path: string): string | undefined {
    const value = fields[key];
    if (value === undefined || typeof value === 'string') return value;
    this.issues.push(`${path}${key}: must be a string`);
    return undefined;
  }

  optionalInt(fields: Fields, key: string, path: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const value = fields[key];
    if (value === undefined) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
    this.issues.push(`${path}${key}: must be an integer from 0 to ${max}`);
    return undefined;
  }

  /** 0 when absent: the user port. */
  port(fields: Fields, path: string): number {
    const value = fields.port;
    if (value === undefined || value === '') return 0;
    const port =
      typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
    this.issues.push(`${path}port: must be a port number (a named port cannot be resolved here)`);
    return 0;
  }

  probe(value: unknown, path: string): ProbeSpec {
    const fields = this.object(value, path.replace(/\.$/, ''));
    if (fields === undefined) return {};
    const spec: ProbeSpec = {};
    if (fields.httpGet !== undefined) {
      const at = `${path}httpGet.`;
      const get = this.object(fields.httpGet, `${path}httpGet`) ?? {};
      const scheme = get.scheme;
      if (scheme !== undefined && scheme !== 'HTTP' && scheme !== 'http')
        this.issues.push(`${at}scheme: must be HTTP (queue-proxy probes the container in cleartext)`);
      const httpHeaders: Array<{ name: string; value: string }> = [];
      if (get.httpHeaders !== undefined) {
        if (!Array.isArray(get.httpHeaders)) this.issues.push(`${at}httpHeaders: must be a list`);
        else
          get.httpHeaders.forEach((header: unknown, i) => {
            const h = this.object(header, `${at}httpHeaders.${i}`);
            if (h === undefined) return;
            if (typeof h.name === 'string' && typeof h.value === 'string')
              httpHeaders.push({ name: h.name, value: h.value });
            else this.issues.push(`${at}httpHeaders.${i}: must have a string name and value`);
          });
      }
      const host = this.optionalString(get, 'host', at);
      const getPath = this.optionalString(get, 'path', at);
      spec.httpGet = {
        port: this.port(get, at),
        httpHeaders,
        ...(host === undefined ? {} : { host }),
        ...(getPath === undefined ? {} : { path: getPath }),
      };
    }
    if (fields.tcpSocket !== undefined) {
      const at = `${path}tcpSocket.`;
      const tcp = this.object(fields.tcpSocket, `${path}tcpSocket`) ?? {};
      const host = this.optionalString(tcp, 'host', at);
      spec.tcpSocket = { port: this.port(tcp, at), ...(host === undefined ? {} : { host }) };
    }
    if (fields.grpc !== undefined) {
      const grpc = this.object(fields.grpc, `${path}grpc`) ?? {};
      const port = this.optionalInt(grpc, 'port', `${path}grpc.`, 65535);
      spec.grpc = port === undefined ? {} : { port };
    }
    if (fields.exec !== undefined) this.object(fields.exec, `${path}exec`);
    for (const key of ['timeoutSeconds', 'periodSeconds', 'successThreshold'] as const) {
      const seconds = this.optionalInt(fields, key, path);
      if (seconds !== undefined) spec[key] = seconds;
    }
    return spec;
  }
}

function toProbe(spec: ProbeSpec, userPort: number): ReadinessProbe {
  const common = {
    timeoutMs: Math.max(1, spec.timeoutSeconds ?? 1) * 1000,
    periodSeconds: spec.periodSeconds ?? 0,
    successThreshold: Math.max(1, spec.successThreshold ?? 1),
  };
  if (spec.httpGet) {
    const headers: Record<string, string> = { 'user-agent': `${PROBE_USER_AGENTS.kubelet}1.34` };
    for (const { name, value } of spec.httpGet.httpHeaders ?? []) headers[name.toLowerCase()] = value;
    return {
      kind: 'http',
      host: spec.httpGet.host || '127.0.0.1',
      port: spec.httpGet.port || userPort,
      path: `/${(spec.httpGet.path ?? '').replace(/^\//, '')}`,
      headers,
      ...common,
    };
  }
  const port = spec.tcpSocket?.port || spec.grpc?.port || userPort;
  return { kind: 'tcp', host: spec.tcpSocket?.host || '127.0.0.1', port, path: '', headers: {}, ...common };
}

/** Without a probe, a TCP connect to the user port in aggressive mode, which is what Knative defaults a revision to. */
export function parseReadinessProbes(json: string, multiContainer: boolean, userPort: number): ReadinessProbe[] {
  if (json.trim() === '') return [toProbe({}, userPort)];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('must be JSON');
  }
  const reader = new SpecReader();
  let specs: ProbeSpec[];
  if (multiContainer) {
    if (!Array.isArray(value) || value.length === 0) throw new Error('(root): must be a non-empty list of probes');
    specs = value.map((item: unknown, i) => reader.probe(item, `${i}.`));
  } else {
    specs = [reader.probe(value, '')];
  }
  if (reader.issues.length > 0) throw new Error(reader.issues.join('; '));
  return specs.map((spec) => toProbe(spec, userPort));
}

/** One attempt: HTTP 200–399 or an accepted TCP connection within the timeout. */
export function probeOnce(probe: ReadinessProbe, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (probe.kind === 'tcp') {
      const socket = connect({ host: probe.host, port: probe.port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
      return;
    }
    const req = http.request(
      {
        host: probe.host,
        port: probe.port,
        path: probe.path,
        headers: probe.headers,
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 400);
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}
