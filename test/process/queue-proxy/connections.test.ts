// queue-proxy's serving port bounds every phase of a connection as the gateway's do (issue #19):
// slowloris clients and idle or half-open h2c sessions are cut off after QUEUE_HEADERS_TIMEOUT and
// QUEUE_KEEP_ALIVE_TIMEOUT; upgrades get the revision's timeoutSeconds for the app's 101 and
// QUEUE_UPGRADE_IDLE_TIMEOUT for an idle tunnel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import { connectRaw, readUntil, upgradeRequest, waitForClose } from '../../support/rawConnections.ts';
import { BOUND, CLOSE_WITHIN_MS, itBoundsEveryConnectionPhase, itBoundsUpgrades } from '../lib/connectionBounds.ts';

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

// Queued upgrades had no timeout at all: one waiting behind a tunnel that holds the only slot
// waited for as long as that tunnel lived.
describe('queue-proxy upgrades queued behind containerConcurrency', () => {
  let app: SampleApp | undefined;
  let qp: QueueProxyProc | undefined;

  beforeAll(async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1', REVISION_TIMEOUT_SECONDS: '1' });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await qp?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  it('answers 504 to an upgrade still queued when timeoutSeconds has passed', async () => {
    const headers = { Host: 'app.default.example.com' };
    const tunnel = await connectRaw(qp!.servingPort);
    tunnel.write(upgradeRequest('/ws', headers));
    expect(await readUntil(tunnel, '\r\n\r\n', CLOSE_WITHIN_MS)).toMatch(/^HTTP\/1\.1 101/);
    const queued = await connectRaw(qp!.servingPort);
    queued.write(upgradeRequest('/ws', headers));
    const ending = await waitForClose(queued, CLOSE_WITHIN_MS);
    expect(ending.received).toMatch(/^HTTP\/1\.1 504/);
    expect(tunnel.destroyed).toBe(false);
    tunnel.destroy();
  });
});
