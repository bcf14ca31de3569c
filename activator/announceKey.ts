// Where the activator gets the key that announce tokens are checked with (lib/announce.ts): the
// Secret the controller creates in the system namespace, read by name (the activator's role may
// get that one Secret and no other), or a file, for running without Kubernetes. Until the key is
// known, announces are refused and pods are learnt from their Endpoints as before.
import { readFileSync } from 'node:fs';
import { ANNOUNCE_KEY_BYTES, ANNOUNCE_KEY_SECRET, announceKeyOf } from '../lib/announce.ts';
import type { Clock, Timer } from '../lib/clock.ts';
import type { KubeRest } from '../lib/kube/rest.ts';
import { readSecret } from '../lib/kube/secrets.ts';
import type { Logger } from '../lib/log.ts';

export interface AnnounceKey {
  current(): Buffer | undefined;
  stop(): void;
}

/** Until the Secret is read; the controller creates it at start, so it is seldom long. */
const RETRY_MS = 5000;
/** Then, so a key an operator replaced is taken up without a restart. */
const REFRESH_MS = 5 * 60_000;

/** The key from the Secret, read now and again; starts reading at once. */
export function secretAnnounceKey(client: KubeRest, namespace: string, clock: Clock, log: Logger): AnnounceKey {
  let key: Buffer | undefined;
  let timer: Timer | undefined;
  let stopped = false;
  let lastProblem: string | undefined;
  const read = async () => {
    try {
      const secret = await readSecret(client, namespace, ANNOUNCE_KEY_SECRET);
      if (secret === undefined) throw new Error('not found');
      const next = announceKeyOf(secret);
      if (key === undefined || !key.equals(next)) log.info('read the announce key', { secret: ANNOUNCE_KEY_SECRET });
      key = next;
      lastProblem = undefined;
    } catch (error) {
      const problem = (error as Error).message;
      if (problem !== lastProblem)
        log.warn('cannot read the announce key; pods are learnt from their endpoints only', {
          secret: `${namespace}/${ANNOUNCE_KEY_SECRET}`,
          error: problem,
        });
      lastProblem = problem;
    }
    if (!stopped) timer = clock.setTimeout(() => void read(), key === undefined ? RETRY_MS : REFRESH_MS);
  };
  void read();
  return {
    current: () => key,
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}

/** The key as the file's bytes (a mounted Secret's `key`, say). */
export function fileAnnounceKey(path: string): AnnounceKey {
  const key = readFileSync(path);
  if (key.length < ANNOUNCE_KEY_BYTES)
    throw new Error(`--announce-key-file: ${path} must hold at least ${ANNOUNCE_KEY_BYTES} bytes`);
  return { current: () => key, stop() {} };
}
