// The user container's readiness probes, which the reconciler strips from the user container
// and hands to queue-proxy as JSON in SERVING_READINESS_PROBE (S:pkg/queue/readiness/probe.go).
import { request } from 'node:http';
import { connect } from 'node:net';
import { z } from 'zod';

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

/** 0 when absent: the user port. */
const portValue = z.union([z.number(), z.string()]).optional().transform((value, ctx) => {
  if (value === undefined || value === '') return 0;
  const port = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  ctx.addIssue({ code: 'custom', message: 'must be a port number (a named port cannot be resolved here)' });
  return z.NEVER;
});
const probeSchema = z.object({
  httpGet: z.object({
    host: z.string().optional(),
    port: portValue,
    path: z.string().optional(),
    scheme: z.enum(['HTTP', 'http']).optional(),
    httpHeaders: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
  }).optional(),
  tcpSocket: z.object({ host: z.string().optional(), port: portValue }).optional(),
  grpc: z.object({ port: z.number().int().min(0).max(65535).optional() }).optional(),
  exec: z.object({}).passthrough().optional(),
  timeoutSeconds: z.number().int().min(0).optional(),
  periodSeconds: z.number().int().min(0).optional(),
  successThreshold: z.number().int().min(0).optional(),
});

type ProbeSpec = z.infer<typeof probeSchema>;

function toProbe(spec: ProbeSpec, userPort: number): ReadinessProbe {
  const common = {
    timeoutMs: Math.max(1, spec.timeoutSeconds ?? 1) * 1000,
    periodSeconds: spec.periodSeconds ?? 0,
    successThreshold: Math.max(1, spec.successThreshold ?? 1),
  };
  if (spec.httpGet) {
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.34' };
    for (const { name, value } of spec.httpGet.httpHeaders ?? []) headers[name.toLowerCase()] = value;
    return {
      kind: 'http', host: spec.httpGet.host || '127.0.0.1', port: spec.httpGet.port || userPort,
      path: `/${(spec.httpGet.path ?? '').replace(/^\//, '')}`, headers, ...common,
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
  const result = (multiContainer ? z.array(probeSchema).min(1) : probeSchema).safeParse(value);
  if (!result.success) throw new Error(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  const specs = Array.isArray(result.data) ? result.data : [result.data];
  return specs.map((spec) => toProbe(spec, userPort));
}

/** One attempt: HTTP 200–399 or an accepted TCP connection within the timeout. */
export function probeOnce(probe: ReadinessProbe, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (probe.kind === 'tcp') {
      const socket = connect({ host: probe.host, port: probe.port, timeout: timeoutMs });
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('timeout', () => { socket.destroy(); resolve(false); });
      socket.once('error', () => resolve(false));
      return;
    }
    const req = request({ host: probe.host, port: probe.port, path: probe.path, headers: probe.headers, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}
