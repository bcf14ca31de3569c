// lib/config/store.ts against a scripted API: the informer's list, then watch events.
import type { HttpMethod, KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../../lib/config/deployment.ts';
import { parseFeatures, type Features } from '../../../lib/config/features.ts';
import { ConfigStore, ConfigUnavailable, requiredConfig } from '../../../lib/config/store.ts';
import { InformerFactory } from '../../../lib/kube/informerFactory.ts';
import type { KubeRest, RequestOptions, WatchEvent } from '../../../lib/kube/rest.ts';
import type { DeploymentConfig } from '../../../lib/config/deployment.ts';
import type { Logger } from '../../../lib/log.ts';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const cm = (
  name: string,
  data: Record<string, string>,
  resourceVersion: string,
): KubernetesObject & { data: Record<string, string> } => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'system', resourceVersion },
  data,
});

/** Lists `initial`, then yields whatever push() is given on the watch. */
class ScriptedApi implements KubeRest {
  readonly #initial: KubernetesObject[];
  readonly #pending: WatchEvent[] = [];
  #wake: (() => void) | undefined;

  constructor(initial: KubernetesObject[]) {
    this.#initial = initial;
  }

  push(event: WatchEvent): void {
    this.#pending.push(event);
    this.#wake?.();
  }

  async request<T>(_method: HttpMethod, _path: string): Promise<T> {
    return { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: this.#initial } as T;
  }

  async *watch<T extends KubernetesObject>(_path: string, options: RequestOptions = {}): AsyncIterable<WatchEvent<T>> {
    while (!options.signal?.aborted) {
      const next = this.#pending.shift();
      if (next) {
        yield next as WatchEvent<T>;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        options.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }
}

interface Config {
  features: Features;
  deployment: DeploymentConfig | ConfigUnavailable;
}

/** A Logger that keeps each line as { level, message, ...fields }. */
function recordingLogger(lines: Record<string, unknown>[]): Logger {
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, message, ...fields });
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    with: () => logger,
  };
  return logger;
}

/** A store on a factory of its own, which each test starts and stops as a process's main does. */
function store(api: ScriptedApi, log?: Logger) {
  const informers = new InformerFactory({ client: api });
  const s = new ConfigStore<Config>({
    informers,
    namespace: 'system',
    ...(log ? { log } : {}),
    entries: {
      features: { name: 'config-features', parse: parseFeatures },
      deployment: { name: 'config-deployment', parse: requiredConfig(parseDeploymentConfig) },
    },
  });
  return { s, informers };
}

describe('ConfigStore', () => {
  it('starts from defaults, and from ConfigUnavailable for a ConfigMap that has none', () => {
    const { s } = store(new ScriptedApi([]));
    expect(s.snapshot().features['tag-header-based-routing']).toBe('Disabled');
    expect(s.snapshot().deployment).toBeInstanceOf(ConfigUnavailable);
    expect((s.snapshot().deployment as ConfigUnavailable).message).toContain('queue-sidecar-image');
  });

  it('parses listed and watched ConfigMaps into a new frozen snapshot and tells listeners', async () => {
    const api = new ScriptedApi([cm('config-deployment', { 'queue-sidecar-image': 'q:1' }, '1')]);
    const { s, informers } = store(api);
    const changed: string[] = [];
    s.onChange((name) => changed.push(name));
    informers.start();
    await s.whenSynced();
    const first = s.snapshot();
    expect((first.deployment as DeploymentConfig).queueSidecarImage).toBe('q:1');
    expect(Object.isFrozen(first.deployment)).toBe(true);

    api.push({ type: 'MODIFIED', object: cm('config-deployment', { 'queue-sidecar-image': 'q:2' }, '2') });
    await settle();
    expect((s.snapshot().deployment as DeploymentConfig).queueSidecarImage).toBe('q:2');
    expect((first.deployment as DeploymentConfig).queueSidecarImage).toBe('q:1');
    expect(changed).toEqual(['config-deployment', 'config-deployment']);
    await informers.stop();
  });

  it('falls back to the default for a bad key alone, keeps the others, and logs the key and the rule', async () => {
    const api = new ScriptedApi([
      cm('config-features', { 'tag-header-based-routing': 'enabled', 'kubernetes.podspec-affinity': 'enabled' }, '1'),
    ]);
    const lines: Record<string, unknown>[] = [];
    const { s, informers } = store(api, recordingLogger(lines));
    informers.start();
    await s.whenSynced();
    api.push({
      type: 'MODIFIED',
      object: cm(
        'config-features',
        { 'tag-header-based-routing': 'sometimes', 'kubernetes.podspec-affinity': 'enabled' },
        '2',
      ),
    });
    await settle();
    expect(s.snapshot().features['tag-header-based-routing']).toBe('Disabled');
    expect(s.snapshot().features['kubernetes.podspec-affinity']).toBe('Enabled');
    expect(lines).toContainEqual({
      level: 'warn',
      message: 'invalid configuration key, using its default',
      configMap: 'config-features',
      key: 'tag-header-based-routing',
      error: 'must be Enabled, Disabled or Allowed',
    });
    await informers.stop();
  });

  it('keeps the last good value when a ConfigMap cannot be parsed at all', async () => {
    const api = new ScriptedApi([cm('config-deployment', { 'queue-sidecar-image': 'q:1' }, '1')]);
    const { s, informers } = store(api);
    informers.start();
    await s.whenSynced();
    api.push({ type: 'MODIFIED', object: cm('config-deployment', { 'queue-sidecar-image': '' }, '2') });
    await settle();
    expect((s.snapshot().deployment as DeploymentConfig).queueSidecarImage).toBe('q:1');
    await informers.stop();
  });

  it('explains why a ConfigMap without defaults is still unusable when its first version is bad', async () => {
    const api = new ScriptedApi([cm('config-deployment', { 'progress-deadline': 'soon' }, '1')]);
    const { s, informers } = store(api);
    informers.start();
    await s.whenSynced();
    const unavailable = s.snapshot().deployment as ConfigUnavailable;
    expect(unavailable).toBeInstanceOf(ConfigUnavailable);
    expect(unavailable.message).toContain('progress-deadline');
    await informers.stop();
  });

  it('falls back to defaults when a ConfigMap is deleted, and reports presence once it exists', async () => {
    const api = new ScriptedApi([]);
    const { s, informers } = store(api);
    informers.start();
    await s.whenSynced();
    let present = false;
    void s.whenPresent('config-features').then(() => {
      present = true;
    });
    api.push({ type: 'ADDED', object: cm('config-features', { 'tag-header-based-routing': 'enabled' }, '2') });
    await settle();
    expect(present).toBe(true);
    api.push({ type: 'DELETED', object: cm('config-features', { 'tag-header-based-routing': 'enabled' }, '3') });
    await settle();
    expect(s.snapshot().features['tag-header-based-routing']).toBe('Disabled');
    await informers.stop();
  });
});
