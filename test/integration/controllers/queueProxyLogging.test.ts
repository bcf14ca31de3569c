// config-logging reaches queue-proxy as upstream passes it: in the environment of each revision's
// Deployment, updated when the ConfigMap changes.
import { describe, expect, it } from 'vitest';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  deploymentsPath,
  FakeDataPlane,
  get,
  ksvc,
  putConfigMap,
  QUEUE_IMAGE,
  queueProxyEnv,
  startInProcess,
  waitFor,
  cleanupsAfterEach,
} from './harness.ts';

const cleanups = cleanupsAfterEach();

const loggingEnv = (deployment: any) => queueProxyEnv(deployment, 'SERVING_LOGGING_');

describe("queue-proxy's log level", () => {
  it("is config-logging's, in the revision's Deployment, and follows an edit of loglevel.queueproxy", async () => {
    const ns = await createNamespace('qp-logging');
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    await putConfigMap(ns, 'config-logging', { 'zap-logger-config': '{"level": "warn"}' });
    const dataPlane = new FakeDataPlane(api, ns).start();
    cleanups.push(() => dataPlane.stop());
    const running = await startInProcess(ns, { client: api });
    cleanups.push(() => running.stop());
    await mustSucceed(apply(ns, ksvc('logs')));
    const path = deploymentsPath(ns, 'logs-00001-deployment');
    const first = await waitFor('the Deployment', () => get(path).catch(() => undefined));
    // No override: the variable is there, its empty value omitted by the API server, as upstream's.
    expect(loggingEnv(first)).toEqual({ SERVING_LOGGING_CONFIG: '{"level":"warn"}', SERVING_LOGGING_LEVEL: undefined });
    expect(first.spec.template.spec.containers[1].env).toContainEqual({ name: 'SERVING_LOGGING_LEVEL' });

    await putConfigMap(ns, 'config-logging', {
      'zap-logger-config': '{"level": "warn"}',
      'loglevel.queueproxy': 'debug',
    });
    const updated = await waitFor(
      'the override in the Deployment',
      () => get(path),
      (d) => loggingEnv(d).SERVING_LOGGING_LEVEL === 'debug',
    );
    expect(loggingEnv(updated)).toEqual({ SERVING_LOGGING_CONFIG: '{"level":"warn"}', SERVING_LOGGING_LEVEL: 'debug' });
  });
});
