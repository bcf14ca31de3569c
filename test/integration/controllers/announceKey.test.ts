// The announce key (lib/announce.ts) against a real API server: the controller creates the
// Secret in its system namespace when absent, every replica agrees on one key, an operator's own
// Secret is taken as it is, and each revision's queue-proxy gets the token of that key.
import { describe, expect, it } from 'vitest';
import { secretAnnounceKey } from '../../../controllers/revision/announceKey.ts';
import { ANNOUNCE_KEY_SECRET, announceKeyOf, announceToken } from '../../../lib/announce.ts';
import { createLogger } from '../../../lib/log.ts';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  cleanupsAfterEach,
  deploymentsPath,
  FakeDataPlane,
  get,
  ksvc,
  putConfigMap,
  QUEUE_IMAGE,
  queueProxyEnv,
  startInProcess,
  waitFor,
} from './harness.ts';

const cleanups = cleanupsAfterEach();
const log = createLogger('test');
const secretPath = (ns: string) => `/api/v1/namespaces/${ns}/secrets/${ANNOUNCE_KEY_SECRET}`;

describe('the announce key', () => {
  it('is created once when absent, whichever replica comes first, and every replica reads the same', async () => {
    const ns = await createNamespace('announce-key');
    const keys = await Promise.all([
      secretAnnounceKey(api, ns, log)(),
      secretAnnounceKey(api, ns, log)(),
      secretAnnounceKey(api, ns, log)(),
    ]);
    const stored = announceKeyOf(await get(secretPath(ns)));
    expect(stored).toHaveLength(32);
    for (const key of keys) expect(key.equals(stored)).toBe(true);
  });

  it("is the operator's own when the Secret exists, and a Secret without a usable key is an error naming it", async () => {
    const ns = await createNamespace('announce-key-own');
    const own = Buffer.alloc(48, 9);
    await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: ANNOUNCE_KEY_SECRET },
        data: { key: own.toString('base64') },
      },
    });
    expect((await secretAnnounceKey(api, ns, log)()).equals(own)).toBe(true);

    const bad = await createNamespace('announce-key-bad');
    await api.request('POST', `/api/v1/namespaces/${bad}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: ANNOUNCE_KEY_SECRET }, data: { other: 'eA==' } },
    });
    await expect(secretAnnounceKey(api, bad, log)()).rejects.toThrow(
      `Secret ${bad}/${ANNOUNCE_KEY_SECRET}: data.key must hold at least 32 bytes`,
    );
  });

  it("gives each revision's queue-proxy the announce host and the revision's token under the key", async () => {
    const ns = await createNamespace('announce-env');
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    const dataPlane = new FakeDataPlane(api, ns).start();
    cleanups.push(() => dataPlane.stop());
    const running = await startInProcess(ns, { client: api, announceHost: 'activator-announce.test.svc.' });
    cleanups.push(() => running.stop());
    await mustSucceed(apply(ns, ksvc('announced')));
    const deployment = await waitFor('the Deployment', () =>
      get(deploymentsPath(ns, 'announced-00001-deployment')).catch(() => undefined),
    );
    const key = announceKeyOf(await get(secretPath(ns)));
    expect(queueProxyEnv(deployment, 'ACTIVATOR_ANNOUNCE_')).toEqual({
      ACTIVATOR_ANNOUNCE_HOST: 'activator-announce.test.svc.',
      ACTIVATOR_ANNOUNCE_TOKEN: announceToken(key, ns, 'announced-00001'),
    });
  });
});
