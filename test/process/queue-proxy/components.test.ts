// The pure parts of queue-proxy and lib/http, without sockets: the time-weighted stats
// arithmetic, configuration defaults and errors, and header rules.
import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../../../lib/http/headers.ts';
import { nextDeadline } from '../../../lib/http/timeouts.ts';
import { parseConfig } from '../../../queue-proxy/config.ts';
import { RequestStats } from '../../../lib/stats/requestStats.ts';

const REQUIRED_ENV = {
  SERVING_NAMESPACE: 'ns',
  SERVING_CONFIGURATION: 'cfg',
  SERVING_REVISION: 'rev',
  SERVING_POD: 'pod',
};

describe('RequestStats', () => {
  it('averages concurrency over time and counts requests per window, proxied ones apart and included', () => {
    const stats = new RequestStats(0);
    stats.requestIn(0, false);
    stats.requestIn(250, true);
    stats.requestOut(500, false);
    stats.requestOut(1000, true);
    // 1 for 250ms, 2 for 250ms, 1 for 500ms; the proxied one for 750ms.
    expect(stats.report(1000)).toEqual({
      averageConcurrency: 1.25,
      averageProxiedConcurrency: 0.75,
      requestCount: 2,
      proxiedRequestCount: 1,
    });
    stats.requestIn(1500, false);
    expect(stats.report(2000)).toEqual({
      averageConcurrency: 0.5,
      averageProxiedConcurrency: 0,
      requestCount: 1,
      proxiedRequestCount: 0,
    });
  });
});

describe('nextDeadline', () => {
  const arrivedAt = 1000;

  it('is the first-byte timeout alone when the others are off', () => {
    expect(nextDeadline({ firstByteMs: 300, responseStartMs: 0, idleMs: 0 }, arrivedAt, 0, arrivedAt)).toBe(1300);
  });

  it('applies the first-byte and response-start timeouts only until the first byte', () => {
    const timeouts = { firstByteMs: 300, responseStartMs: 100, idleMs: 0 };
    expect(nextDeadline(timeouts, arrivedAt, 0, arrivedAt)).toBe(1100);
    // A response that started streams on past timeoutSeconds, as Knative's conformance requires.
    expect(nextDeadline(timeouts, arrivedAt, 1050, 1100)).toBe(Infinity);
    expect(nextDeadline(timeouts, arrivedAt, 1050, 5000)).toBe(Infinity);
  });

  it('counts idleness from the last byte, or from arrival before any', () => {
    const timeouts = { firstByteMs: 300, responseStartMs: 0, idleMs: 50 };
    expect(nextDeadline(timeouts, arrivedAt, 0, arrivedAt)).toBe(1050);
    expect(nextDeadline(timeouts, arrivedAt, 1120, 1150)).toBe(1170);
    expect(nextDeadline(timeouts, arrivedAt, 1400, 1420)).toBe(1450);
  });

  it('is now once a timeout has expired', () => {
    expect(nextDeadline({ firstByteMs: 300, responseStartMs: 0, idleMs: 0 }, arrivedAt, 0, 1400)).toBe(1400);
  });
});

describe('parseConfig', () => {
  it("applies Knative's defaults", () => {
    const config = parseConfig(REQUIRED_ENV);
    expect(config).toMatchObject({
      servingPort: 8012,
      adminPort: 8022,
      autoscalerMetricsPort: 9090,
      userMetricsPort: 9091,
      userPort: 8080,
      containerConcurrency: 0,
      timeoutMs: 300_000,
      responseStartTimeoutMs: 0,
      idleTimeoutMs: 0,
      drainQuietPeriodMs: 30_000,
      drainTimeoutMs: 300_000,
      reportingPeriodMs: 1000,
    });
    expect(config.readinessProbes).toEqual([
      expect.objectContaining({ kind: 'tcp', host: '127.0.0.1', port: 8080, periodSeconds: 0 }),
    ]);
  });

  it("announces the pod only with both the activators' host and the token, at the activators' port", () => {
    expect(parseConfig(REQUIRED_ENV).announce).toBeUndefined();
    const token = 'a'.repeat(64);
    expect(
      parseConfig({
        ...REQUIRED_ENV,
        ACTIVATOR_ANNOUNCE_HOST: 'activator-announce.ns.svc.',
        ACTIVATOR_ANNOUNCE_TOKEN: token,
      }).announce,
    ).toEqual({ host: 'activator-announce.ns.svc.', port: 8015, token });
    expect(() => parseConfig({ ...REQUIRED_ENV, ACTIVATOR_ANNOUNCE_TOKEN: token })).toThrow(
      'ACTIVATOR_ANNOUNCE_HOST and ACTIVATOR_ANNOUNCE_TOKEN: must be set together or not at all',
    );
  });

  it('sizes the queue from containerConcurrency and reads the probe JSON', () => {
    const config = parseConfig({
      ...REQUIRED_ENV,
      CONTAINER_CONCURRENCY: '4',
      USER_PORT: '3000',
      SERVING_READINESS_PROBE: '{"httpGet":{"path":"healthz","port":3001},"periodSeconds":5,"timeoutSeconds":2}',
    });
    expect(config.queueDepth).toBe(40);
    expect(config.readinessProbes).toEqual([
      expect.objectContaining({ kind: 'http', port: 3001, path: '/healthz', periodSeconds: 5, timeoutMs: 2000 }),
    ]);
  });

  it("logs at loglevel.queueproxy when set, else at zap-logger-config's level, else info", () => {
    const level = (env: Record<string, string>) => parseConfig({ ...REQUIRED_ENV, ...env }).logLevel;
    expect(level({})).toBe('info');
    expect(level({ SERVING_LOGGING_CONFIG: '{"level":"warn","encoding":"json"}', SERVING_LOGGING_LEVEL: '' })).toBe(
      'warn',
    );
    expect(level({ SERVING_LOGGING_CONFIG: '{"level":"warn"}', SERVING_LOGGING_LEVEL: 'Debug' })).toBe('debug');
    expect(level({ SERVING_LOGGING_CONFIG: '{"encoding":"console"}' })).toBe('info');
    expect(() => parseConfig({ ...REQUIRED_ENV, SERVING_LOGGING_LEVEL: 'loud', SERVING_LOGGING_CONFIG: '[' })).toThrow(
      'queue-proxy environment is invalid: SERVING_LOGGING_LEVEL: must be a zap level: debug, info, warn, error, dpanic, panic or fatal',
    );
    expect(() => parseConfig({ ...REQUIRED_ENV, SERVING_LOGGING_CONFIG: '{"level":"loud"}' })).toThrow(
      'SERVING_LOGGING_CONFIG: level must be a zap level',
    );
    expect(() => parseConfig({ ...REQUIRED_ENV, SERVING_LOGGING_CONFIG: 'level=info' })).toThrow(
      `SERVING_LOGGING_CONFIG: must be zap's JSON configuration`,
    );
  });

  it('names each bad variable and its rule', () => {
    expect(() => parseConfig({ ...REQUIRED_ENV, USER_PORT: '70000', QUEUE_DRAIN_QUIET_PERIOD: 'soon' })).toThrow(
      'queue-proxy environment is invalid: USER_PORT: must be at most 65535; QUEUE_DRAIN_QUIET_PERIOD: must be a duration such as "60s" or "1m30s"',
    );
    expect(() => parseConfig({ ...REQUIRED_ENV, SERVING_READINESS_PROBE: '{"httpGet":{"port":"http"}}' })).toThrow(
      'SERVING_READINESS_PROBE: httpGet.port: must be a port number (a named port cannot be resolved here)',
    );
    expect(() =>
      parseConfig({ ...REQUIRED_ENV, ENABLE_MULTI_CONTAINER_PROBES: 'yes', QUEUE_REPORTING_PERIOD: '10ms' }),
    ).toThrow(
      'queue-proxy environment is invalid: ENABLE_MULTI_CONTAINER_PROBES: must be true or false; QUEUE_REPORTING_PERIOD: must be at least 0.1s',
    );
    expect(() =>
      parseConfig({
        ...REQUIRED_ENV,
        SERVING_READINESS_PROBE: '{"httpGet":{"path":5,"scheme":"HTTPS"},"periodSeconds":-1}',
      }),
    ).toThrow(
      'SERVING_READINESS_PROBE: httpGet.scheme: must be HTTP (queue-proxy probes the container in cleartext); httpGet.path: must be a string; periodSeconds: must be an integer from 0 to 9007199254740991',
    );
  });

  it('reads one probe per container when multi-container probing is on', () => {
    const config = parseConfig({
      ...REQUIRED_ENV,
      ENABLE_MULTI_CONTAINER_PROBES: 'true',
      SERVING_READINESS_PROBE:
        '[{"tcpSocket":{"port":8080},"successThreshold":2},{"httpGet":{"path":"/ready","port":"8081","httpHeaders":[{"name":"X-Probe","value":"1"}]}}]',
    });
    expect(config.readinessProbes).toEqual([
      expect.objectContaining({ kind: 'tcp', port: 8080, successThreshold: 2 }),
      expect.objectContaining({
        kind: 'http',
        port: 8081,
        path: '/ready',
        headers: { 'user-agent': 'kube-probe/1.34', 'x-probe': '1' },
      }),
    ]);
    expect(() =>
      parseConfig({
        ...REQUIRED_ENV,
        ENABLE_MULTI_CONTAINER_PROBES: 'true',
        SERVING_READINESS_PROBE: '[{"grpc":{"port":70000}}, 3]',
      }),
    ).toThrow('SERVING_READINESS_PROBE: 0.grpc.port: must be an integer from 0 to 65535; 1: must be an object');
  });
});

describe('proxy headers', () => {
  it('drops hop-by-hop headers, the ones Connection names, and Expect; keeps order, case and TE: trailers', () => {
    const raw = [
      'Host',
      'a.example',
      'Connection',
      'keep-alive, X-Secret',
      'X-Secret',
      '1',
      'Keep-Alive',
      'timeout=5',
      'TE',
      'trailers',
      'Expect',
      '100-continue',
      'X-A',
      '1',
      'x-a',
      '2',
    ];
    const headers = { host: 'a.example', connection: 'keep-alive, X-Secret', 'x-secret': '1' };
    expect(upstreamRequestHeaders(raw, headers)).toEqual([
      'Host',
      'a.example',
      'TE',
      'trailers',
      'X-A',
      '1',
      'x-a',
      '2',
    ]);
  });

  it('turns HTTP/2 pseudo-headers into a Host for an HTTP/1.1 upstream', () => {
    const raw = [':method', 'GET', ':authority', 'b.example', ':path', '/', 'accept', '*/*'];
    expect(upstreamRequestHeaders(raw, { ':authority': 'b.example', accept: '*/*' })).toEqual([
      'accept',
      '*/*',
      'host',
      'b.example',
    ]);
  });

  it('drops hop-by-hop response headers', () => {
    expect(
      downstreamResponseHeaders({
        'transfer-encoding': 'chunked',
        connection: 'close',
        'set-cookie': ['a=1', 'b=2'],
        'content-type': 'text/plain',
      }),
    ).toEqual({ 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain' });
  });
});
