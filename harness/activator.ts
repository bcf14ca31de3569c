// The activator as a real child process with its static pod source, plus the pods (sample app
// behind a queue-proxy) and a stats sink the tests drive. The admin endpoint is documented in
// activator/staticSource.ts; the stats payload in activator/stats.ts.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Agent, request } from 'undici';
import { fromWire, type ActivatorStat, type WireStat } from '../activator/stats.ts';
import {
  freePort,
  startQueueProxy,
  startSampleApp,
  track,
  waitForLine,
  type Proc,
  type QueueProxyProc,
  type SampleApp,
} from './processes.ts';

const ACTIVATOR = fileURLToPath(new URL('../activator/main.ts', import.meta.url));

export interface ActivatorProc extends Proc {
  port: number;
  h2cPort: number;
  adminPort: number;
  metricsPort: number;
  announcePort: number;
}

export async function startActivator(flags: string[] = []): Promise<ActivatorProc> {
  const proc = track(
    spawn(
      process.execPath,
      [
        ACTIVATOR,
        '--pod-source',
        'static',
        '--bind',
        '127.0.0.1',
        '--port',
        '0',
        '--h2c-port',
        '0',
        '--admin-port',
        '0',
        '--metrics-port',
        '0',
        '--announce-port',
        '0',
        '--name',
        'activator-test',
        '--drain-quiet-period',
        '100ms',
        ...flags,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  const line = await waitForLine(proc, (l) => l.message === 'activator started');
  return {
    ...proc,
    port: line.port as number,
    h2cPort: line.h2cPort as number,
    adminPort: line.adminPort as number,
    metricsPort: line.metricsPort as number,
    announcePort: line.announcePort as number,
  };
}

export interface RevisionSpec {
  containerConcurrency: number;
  timeoutSeconds?: number;
  responseStartTimeoutSeconds?: number;
  idleTimeoutSeconds?: number;
  pods: string[];
  /** The revision's reserved instance, served while no standard pod answers its probe. */
  reserved?: { containerConcurrency: number; pods: string[] };
  /** Pods whose endpoint is not ready (Kubernetes' notReadyAddresses). */
  notReady?: string[];
  /** Lets the revision's pods announce themselves, reached at this port of the announcing address. */
  announcePort?: number;
}

export async function putRevision(activator: ActivatorProc, name: string, spec: RevisionSpec): Promise<void> {
  const res = await request(`http://127.0.0.1:${activator.adminPort}/revisions/default/${name}`, {
    method: 'PUT',
    body: JSON.stringify(spec),
  });
  const body = await res.body.text();
  if (res.statusCode !== 204) throw new Error(`PUT revision ${name}: ${res.statusCode} ${body}`);
}

/** Requests the activator holds for a revision, read from its metrics. */
export async function heldRequests(activator: ActivatorProc, revision: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${activator.metricsPort}/metrics`);
  const text = await res.body.text();
  const match = new RegExp(
    `^kn_revision_request_queued\\{[^}]*kn_revision_name="${revision}"[^}]*\\} (\\d+)`,
    'm',
  ).exec(text);
  return match ? Number(match[1]) : 0;
}

/** Polls every 10ms, at most 1000 times, until check() is true. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never happened: ${what}`);
}

export interface Pod {
  app: SampleApp;
  queueProxy: QueueProxyProc;
  address: string;
  stop(): Promise<void>;
}

/** A pod's ports, chosen before it starts, so the activator can be told its address first. */
export interface PodPorts {
  appPort: number;
  queuePort: number;
  address: string;
}

export async function reservePodPorts(): Promise<PodPorts> {
  const [appPort, queuePort] = await Promise.all([freePort(), freePort()]);
  return { appPort, queuePort, address: `127.0.0.1:${queuePort}` };
}

/**
 * Starts queue-proxy first and the app after it, as a slow container would, so the pod exists
 * but fails its probes until `app` is started. queue-proxy's own breaker is off unless asked,
 * so any concurrency limit the app sees is the activator's.
 */
export async function startQueueProxyFor(ports: PodPorts, env: Record<string, string> = {}): Promise<QueueProxyProc> {
  return startQueueProxy(ports.appPort, {
    QUEUE_SERVING_PORT: String(ports.queuePort),
    CONTAINER_CONCURRENCY: '0',
    ...env,
  });
}

export async function startPod(ports?: PodPorts): Promise<Pod> {
  const chosen = ports ?? (await reservePodPorts());
  const app = await startSampleApp({ PORT: String(chosen.appPort) });
  const queueProxy = await startQueueProxyFor(chosen);
  return {
    app,
    queueProxy,
    address: chosen.address,
    stop: async () => {
      await queueProxy.stop();
      await app.stop();
    },
  };
}

export interface AppStats {
  inFlight: number;
  maxInFlight: number;
  requests: number;
}

export async function appStats(app: SampleApp): Promise<AppStats> {
  const res = await request(`http://127.0.0.1:${app.port}/_stats`);
  return (await res.body.json()) as AppStats;
}

/** A request for a revision as the gateway sends it. */
export async function send(
  activator: ActivatorProc,
  client: Agent,
  revision: string,
  path: string,
): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${activator.port}${path}`, {
    dispatcher: client,
    headers: {
      host: `${revision}.default.example.com`,
      'knative-serving-revision': revision,
      'knative-serving-namespace': 'default',
    },
  });
  return { status: res.statusCode, body: await res.body.text() };
}

/** An HTTP endpoint that records every batch of stats POSTed to it, in arrival order. */
export class StatsSink {
  readonly batches: Array<{ receivedAt: number; stats: ActivatorStat[] }> = [];
  #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.batches.push({
          receivedAt: Date.now(),
          stats: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as WireStat[]).map(fromWire),
        });
        res.writeHead(204).end();
      });
    });
  }

  get stats(): ActivatorStat[] {
    return this.batches.flatMap((b) => b.stats);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/stats`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
