// Starts the sample app and queue-proxy as real child processes on loopback, for process tests
// and the benchmark. Each helper resolves once the process reports its ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { QUEUE_NODE_FLAGS } from '../controllers/revision/resources/queueContainer.ts';

const NODE = process.execPath;
const SAMPLE_APP = fileURLToPath(new URL('./sampleApp.ts', import.meta.url));
const QUEUE_PROXY = fileURLToPath(new URL('../queue-proxy/main.ts', import.meta.url));

export interface Proc {
  child: ChildProcess;
  /** Every JSON line the process wrote on stdout or stderr so far. */
  lines: Array<Record<string, unknown>>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs if still running. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Follows a child process: its JSON log lines, its exit, and a stop that escalates. */
export function track(child: ChildProcess): Proc {
  // No orphans when the test or benchmark process dies first.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const lines: Array<Record<string, unknown>> = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ text: line });
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Resolves with the first line matching, or rejects when the process exits first or the time is up. */
export function waitForLine(
  proc: Proc,
  match: (line: Record<string, unknown>) => boolean,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = proc.lines.find(match);
      if (found) {
        finish();
        resolve(found);
      }
    };
    const interval = setInterval(check, 5);
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no matching line within ${timeoutMs}ms: ${JSON.stringify(proc.lines.slice(-5))}`));
    }, timeoutMs);
    const onExit = () => {
      check();
      finish();
      reject(new Error(`process exited: ${JSON.stringify(proc.lines.slice(-5))}`));
    };
    proc.child.once('exit', onExit);
    function finish() {
      clearInterval(interval);
      clearTimeout(timer);
      proc.child.off('exit', onExit);
    }
    check();
  });
}

/** A port that was free a moment ago, for a process that must be told its port before it starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface SampleApp extends Proc {
  port: number;
}

export async function startSampleApp(
  env: Record<string, string> = {},
  options: { waitForListening?: boolean } = {},
): Promise<SampleApp> {
  const proc = track(
    spawn(NODE, [SAMPLE_APP], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  if (options.waitForListening === false) return { ...proc, port: Number(env.PORT) };
  const line = await waitForLine(proc, (l) => typeof l.listening === 'number');
  return { ...proc, port: line.listening as number };
}

export interface QueueProxyProc extends Proc {
  servingPort: number;
  adminPort: number;
  autoscalerMetricsPort: number;
  userMetricsPort: number;
}

/** Queue-proxy for a revision default/app-00001 in front of userPort, every port of its own picked by the OS. */
export async function startQueueProxy(userPort: number, env: Record<string, string> = {}): Promise<QueueProxyProc> {
  const proc = spawnQueueProxy(userPort, env);
  const line = await waitForLine(proc, (l) => l.message === 'queue-proxy started');
  return {
    ...proc,
    servingPort: line.servingPort as number,
    adminPort: line.adminPort as number,
    autoscalerMetricsPort: line.autoscalerMetricsPort as number,
    userMetricsPort: line.userMetricsPort as number,
  };
}

/**
 * What queue-proxy reads to serve revision default/app-00001 in front of userPort on loopback,
 * every port of its own picked by the OS: for the tests and the benchmarks that start it.
 */
export function loopbackQueueProxyEnv(userPort: number): Record<string, string> {
  return {
    SERVING_NAMESPACE: 'default',
    SERVING_CONFIGURATION: 'app',
    SERVING_REVISION: 'app-00001',
    SERVING_POD: 'app-00001-deployment-abc',
    USER_PORT: String(userPort),
    QUEUE_SERVING_PORT: '0',
    QUEUE_ADMIN_PORT: '0',
    QUEUE_AUTOSCALER_METRICS_PORT: '0',
    QUEUE_USER_METRICS_PORT: '0',
    QUEUE_BIND_ADDRESS: '127.0.0.1',
    // Knative's 30s is for endpoint propagation, which loopback tests do not have.
    QUEUE_DRAIN_QUIET_PERIOD: '100ms',
  };
}

/** The queue-proxy process without waiting for it to start, with the node flags a pod gives it by default. */
export function spawnQueueProxy(userPort: number, env: Record<string, string> = {}): Proc {
  return track(
    spawn(NODE, [...QUEUE_NODE_FLAGS.optimizing, QUEUE_PROXY], {
      env: { ...process.env, ...loopbackQueueProxyEnv(userPort), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}
