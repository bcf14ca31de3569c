// Readiness of the pod as kubelet and the activator see it through queue-proxy, with the app
// starting after queue-proxy, as containers in a pod do.
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  freePort,
  spawnQueueProxy,
  startQueueProxy,
  startSampleApp,
  waitForLine,
  type QueueProxyProc,
  type SampleApp,
} from '../../../harness/processes.ts';

const KUBELET_PROBE = { 'user-agent': 'kube-probe/1.34', 'k-network-probe': 'queue' };

describe('readiness', () => {
  let app: SampleApp | undefined;
  let qp: QueueProxyProc | undefined;

  afterEach(async () => {
    await qp?.stop();
    await app?.stop();
  });

  async function probe(headers: Record<string, string> = KUBELET_PROBE): Promise<{ status: number; body: string }> {
    const res = await request(`http://127.0.0.1:${qp!.servingPort}/`, { headers });
    return { status: res.statusCode, body: await res.body.text() };
  }

  it('holds an early readiness probe until the app listens, then answers 200 "queue"', async () => {
    const userPort = await freePort();
    qp = await startQueueProxy(userPort);
    const earlyProbe = probe();
    app = await startSampleApp({ PORT: String(userPort), APP_LISTEN_DELAY_MS: '300' });
    expect(await earlyProbe).toEqual({ status: 200, body: 'queue' });
    // The startup prober, not a later kubelet retry, saw the app: it logged the moment.
    expect(await waitForLine(qp, (l) => l.message === 'user container ready')).toMatchObject({
      message: 'user container ready',
    });
  });

  it('uses the readiness probe from SERVING_READINESS_PROBE', async () => {
    app = await startSampleApp();
    const readinessProbe = {
      httpGet: { host: '127.0.0.1', port: app.port, path: '/ready', httpHeaders: [{ name: 'X-Probe', value: '1' }] },
      successThreshold: 1,
    };
    qp = await startQueueProxy(app.port, { SERVING_READINESS_PROBE: JSON.stringify(readinessProbe) });
    expect(await probe()).toEqual({ status: 200, body: 'queue' });
    expect(await probe({ 'user-agent': 'Knative-Activator-Probe', 'k-network-probe': 'queue' })).toEqual({
      status: 200,
      body: 'queue',
    });
    const seen = (await (await request(`http://127.0.0.1:${app.port}/_stats`)).body.json()) as {
      lastProbe: { path: string; headers: Record<string, string> };
    };
    expect(seen.lastProbe.path).toBe('/ready');
    expect(seen.lastProbe.headers['x-probe']).toBe('1');
    expect(seen.lastProbe.headers['user-agent']).toMatch(/^kube-probe\//);
  });

  // Knative's TestProbeRuntimeAfterStartup: each health check after startup runs the user's probe
  // again, so kubelet sees the pod turn not ready and the activator's re-probe fails.
  it("reports not ready once the app's own readiness probe starts failing", async () => {
    app = await startSampleApp();
    const readinessProbe = { httpGet: { host: '127.0.0.1', port: app.port, path: '/healthz' }, periodSeconds: 1 };
    qp = await startQueueProxy(app.port, { SERVING_READINESS_PROBE: JSON.stringify(readinessProbe) });
    expect(await probe()).toEqual({ status: 200, body: 'queue' });
    await request(`http://127.0.0.1:${app.port}/_probes/fail`, { method: 'POST' }).then((res) => res.body.dump());
    expect((await probe()).status).toBe(503);
    expect((await probe({ 'user-agent': 'Knative-Activator-Probe', 'k-network-probe': 'queue' })).status).toBe(503);
  });

  it('reports not ready once the app has gone away', async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port);
    expect((await probe()).status).toBe(200);
    await app.stop();
    expect((await probe()).status).toBe(503);
  });

  it('refuses to start with a clear error naming the variable and the rule', async () => {
    const failed = spawnQueueProxy(8080, { CONTAINER_CONCURRENCY: 'lots', SERVING_POD: '' });
    expect(await failed.exited).toBe(1);
    const error = await waitForLine(failed, (l) => l.severity === 'error');
    expect(error.error).toBe(
      'queue-proxy environment is invalid: SERVING_POD: must be set; CONTAINER_CONCURRENCY: must be an integer',
    );
  });

  // Retried once: in one CI run of the whole fast suite the second process ended by a signal
  // (exit code null) within a second of its start, not reproduced in runs of this file alone.
  it("logs at the level config-logging gave it: loglevel.queueproxy over zap-logger-config's", {
    retry: 1,
  }, async () => {
    app = await startSampleApp();
    const servingPort = await freePort();
    const quiet = spawnQueueProxy(app.port, {
      QUEUE_SERVING_PORT: String(servingPort),
      SERVING_LOGGING_CONFIG: '{"level":"debug"}',
      SERVING_LOGGING_LEVEL: 'error',
    });
    const ready = async () =>
      request(`http://127.0.0.1:${servingPort}/`, { headers: KUBELET_PROBE }).then(
        (r) => r.statusCode,
        () => 0,
      );
    await expect.poll(ready, { timeout: 10_000, interval: 50 }).toBe(200);
    expect(await quiet.stop()).toBe(0);
    // Started, drained and stopped without an error: at level error, not a line.
    expect(quiet.lines).toEqual([]);
    // The same events with the override at debug over zap's error: logged.
    qp = await startQueueProxy(app.port, {
      SERVING_LOGGING_CONFIG: '{"level":"error"}',
      SERVING_LOGGING_LEVEL: 'debug',
    });
    expect(await qp.stop()).toBe(0);
    expect(qp.lines.map((l) => l.message)).toEqual(
      expect.arrayContaining(['queue-proxy started', 'draining', 'drained']),
    );
  });
});
