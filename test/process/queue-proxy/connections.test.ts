// queue-proxy's serving port bounds every phase of a connection as the gateway's do (issue #19):
// slowloris clients and idle or half-open h2c sessions are cut off after QUEUE_HEADERS_TIMEOUT and
// QUEUE_KEEP_ALIVE_TIMEOUT; upgrades get the revision's timeoutSeconds for the app's 101 and
// QUEUE_UPGRADE_IDLE_TIMEOUT for an idle tunnel.
import { afterAll, beforeAll, describe } from 'vitest';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../support/apps/processes.ts';
import { BOUND, itBoundsEveryConnectionPhase, itBoundsUpgrades } from '../lib/connectionBounds.ts';

const HOOK_TIMEOUT_MS = 60_000;

describe('queue-proxy connection bounds', () => {
  let app: SampleApp | undefined;
  let qp: QueueProxyProc | undefined;

  beforeAll(async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, {
      QUEUE_HEADERS_TIMEOUT: BOUND,
      QUEUE_KEEP_ALIVE_TIMEOUT: BOUND,
      QUEUE_UPGRADE_IDLE_TIMEOUT: BOUND,
      // The upgrade response timeout: the smallest timeoutSeconds.
      REVISION_TIMEOUT_SECONDS: '1',
    });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await qp?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  itBoundsEveryConnectionPhase(() => qp!.servingPort);
  itBoundsUpgrades({ port: () => qp!.servingPort, headers: { Host: 'app.default.example.com' } });
});
