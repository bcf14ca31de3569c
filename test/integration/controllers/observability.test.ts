// On a real API server: the controller serves its metrics, and config.webhook.serving.knative.dev
// refuses a bad edit of a Knative ConfigMap in the system namespace, naming the key and the rule,
// while leaving every other ConfigMap alone.
import { describe, expect, inject, it } from 'vitest';
import { SYSTEM_NAMESPACE } from '../../../cli/cluster/operator.ts';
import { createNamespace } from '../../support/kube.ts';
import { api, getOrUndefined, putConfigMap, cleanupsAfterEach } from './harness.ts';

const cleanups = cleanupsAfterEach();

/** The error message of a failed write, or undefined when it succeeded. */
async function refusal(write: Promise<unknown>): Promise<string | undefined> {
  try {
    await write;
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe("the controller's metrics", () => {
  it('are served on its metrics port, reconcilers and work queues included', async () => {
    const res = await fetch(`http://127.0.0.1:${inject('controllerMetricsPort')}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('# TYPE controller_reconcile_total counter');
    expect(text).toContain('# TYPE workqueue_depth gauge');
    expect(text).toMatch(/^process_cpu_user_seconds_total\{component="controller"\} /m);
  });
});

describe('config.webhook.serving.knative.dev', () => {
  const path = `/api/v1/namespaces/${SYSTEM_NAMESPACE}/configmaps/config-features`;

  it('refuses a bad key in the system namespace naming the key and the rule, and takes a valid edit', async () => {
    const before = await getOrUndefined(path);
    cleanups.push(async () => {
      if (before) await putConfigMap(SYSTEM_NAMESPACE, 'config-features', before.data as Record<string, string>);
      else await api.request('DELETE', path);
    });
    const refused = await refusal(
      putConfigMap(SYSTEM_NAMESPACE, 'config-features', {
        'secure-pod-defaults': 'Sometimes',
        'kubernetes.podspec-affinity': 'Enabled',
      }),
    );
    expect(refused).toContain('config.webhook.serving.knative.dev');
    expect(refused).toContain('data.secure-pod-defaults: must be Enabled, Disabled or AllowRootBounded');

    await putConfigMap(SYSTEM_NAMESPACE, 'config-features', { 'secure-pod-defaults': 'AllowRootBounded' });
    const stored = await getOrUndefined(path);
    expect(stored?.data).toEqual({ 'secure-pod-defaults': 'AllowRootBounded' });
  });

  it('leaves ConfigMaps outside the system namespace, and others in it, alone', async () => {
    const ns = await createNamespace('cm-webhook');
    await putConfigMap(ns, 'config-features', { 'secure-pod-defaults': 'Sometimes' });
    await putConfigMap(SYSTEM_NAMESPACE, 'pilotlight-test-unrelated', { 'secure-pod-defaults': 'Sometimes' });
    cleanups.push(async () => {
      await api.request('DELETE', `/api/v1/namespaces/${SYSTEM_NAMESPACE}/configmaps/pilotlight-test-unrelated`);
    });
    expect((await getOrUndefined(`/api/v1/namespaces/${ns}/configmaps/config-features`))?.data).toEqual({
      'secure-pod-defaults': 'Sometimes',
    });
  });
});
