// The key behind each revision's announce token (lib/announce.ts), kept in a Secret of the system
// namespace so every controller replica and restart writes the same tokens, and the activators
// can check them. Created on first use with a random key; read once per process, so a replaced
// key is taken up by the next controller start (which rolls every revision's pods to new tokens).
import { ANNOUNCE_KEY_SECRET, announceKeyOf, newAnnounceKeySecret } from '../../lib/announce.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { readOrCreateSecret } from '../../lib/kube/secrets.ts';
import type { Logger } from '../../lib/log.ts';

/** The key, from the Secret, which is created when absent; a failed attempt is retried by the next call. */
export function secretAnnounceKey(client: KubeRest, namespace: string, log: Logger): () => Promise<Buffer> {
  const load = async () => {
    const { secret, created } = await readOrCreateSecret(client, namespace, ANNOUNCE_KEY_SECRET, () =>
      newAnnounceKeySecret(namespace),
    );
    if (created) log.info('created the announce key', { secret: `${namespace}/${ANNOUNCE_KEY_SECRET}` });
    return announceKeyOf(secret);
  };
  let key: Promise<Buffer> | undefined;
  return () => {
    if (key === undefined) {
      const attempt = load();
      attempt.catch(() => {
        if (key === attempt) key = undefined;
      });
      key = attempt;
    }
    return key;
  };
}
