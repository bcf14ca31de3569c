// The activator's serving ports bound every phase of a connection as the gateway's do (issue
// #19): slowloris clients and idle or half-open h2c sessions are cut off after --headers-timeout
// and --keep-alive-timeout; an upgrade waits for the pod's 101 no longer than the revision's
// timeoutSeconds and an idle tunnel is closed after --upgrade-idle-timeout.
import { afterAll, beforeAll, describe } from 'vitest';
import { BOUND, itBoundsEveryConnectionPhase, itBoundsUpgrades } from '../lib/connectionBounds.ts';
import { putRevision, startActivator, startPod, type ActivatorProc, type Pod } from '../../../harness/activator.ts';

const HOOK_TIMEOUT_MS = 60_000;
const REVISION = 'bounds-00001';

describe('activator connection bounds', () => {
  let activator: ActivatorProc | undefined;
  let pod: Pod | undefined;

  beforeAll(async () => {
    activator = await startActivator([
      '--headers-timeout',
      BOUND,
      '--keep-alive-timeout',
      BOUND,
      '--upgrade-idle-timeout',
      BOUND,
    ]);
    pod = await startPod();
    // timeoutSeconds 1 bounds the wait for the 101; the pod's own queue-proxy waits its default 300s.
    await putRevision(activator, REVISION, { containerConcurrency: 0, timeoutSeconds: 1, pods: [pod.address] });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await activator?.stop();
    await pod?.stop();
  }, HOOK_TIMEOUT_MS);

  describe.each([
    { name: 'port', port: () => activator!.port },
    { name: 'h2c port', port: () => activator!.h2cPort },
  ])('on the $name', ({ port }) => itBoundsEveryConnectionPhase(port));

  itBoundsUpgrades({
    port: () => activator!.port,
    headers: {
      Host: `${REVISION}.default.example.com`,
      'Knative-Serving-Revision': REVISION,
      'Knative-Serving-Namespace': 'default',
    },
  });
});
