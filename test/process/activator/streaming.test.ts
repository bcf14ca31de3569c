// Responses stream through the activator, and through the whole path gateway → activator →
// queue-proxy → app, as they are written: timeoutSeconds bounds the time to the first byte at
// every hop (Knative's TestRevisionTimeout), so a response that starts at once and ends after the
// timeout arrives whole, its first chunk long before its end, while an app that sends nothing
// within the timeout gets 504.
import { Agent, Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStreamed } from '../../support/streamed.ts';
import { ingress, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';
import {
  eventually,
  putRevision,
  reservePodPorts,
  startActivator,
  startQueueProxyFor,
  type ActivatorProc,
} from '../../../harness/activator.ts';
import { startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';

const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'stream.default.example.com';
const TIMEOUT_SECONDS = 1;
const REVISION_HEADERS = {
  host: HOST,
  'knative-serving-revision': 'stream-00001',
  'knative-serving-namespace': 'default',
};

describe('streaming and time to first byte through the activator', () => {
  let activator: ActivatorProc | undefined;
  let app: SampleApp | undefined;
  let queueProxy: QueueProxyProc | undefined;
  let gateway: GatewayProc | undefined;
  const client = new Agent({ connections: 8 });
  let gatewayPool: Pool | undefined;

  beforeAll(async () => {
    const ports = await reservePodPorts();
    [activator, app, queueProxy] = await Promise.all([
      startActivator(),
      startSampleApp({ PORT: String(ports.appPort) }),
      startQueueProxyFor(ports, { REVISION_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) }),
    ]);
    await putRevision(activator, 'stream-00001', {
      containerConcurrency: 0,
      timeoutSeconds: TIMEOUT_SECONDS,
      pods: [ports.address],
    });
    await eventually('the pod answered its probe', () =>
      activator!.lines.some((l) => l.message === 'pod answered its probe; releasing held requests'),
    );
    gateway = await startGateway(
      {
        ingresses: [ingress('stream', [{ hosts: [HOST], paths: [{ splits: [split('stream-00001', 100)] }] }])],
        backends: [{ name: 'stream-00001', addresses: [`127.0.0.1:${activator.port}`] }],
      },
      ['--request-timeout', `${TIMEOUT_SECONDS}s`],
    );
    gatewayPool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 8 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await gatewayPool?.close();
    await client.destroy();
    await gateway?.stop();
    await activator?.stop();
    await queueProxy?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  const paths = () => [
    {
      via: 'the activator',
      url: `http://127.0.0.1:${activator!.port}`,
      options: { dispatcher: client, headers: REVISION_HEADERS },
    },
    {
      via: 'the gateway',
      url: `http://127.0.0.1:${gateway!.externalPort}`,
      options: { dispatcher: gatewayPool!, headers: { host: HOST } },
    },
  ];

  it('passes a response that starts at once and ends after timeoutSeconds on whole, chunk by chunk', async () => {
    for (const { via, url, options } of paths()) {
      const [streamed, headOnly] = await Promise.all([
        readStreamed(`${url}/?stream=${TIMEOUT_SECONDS * 1500}`, options),
        readStreamed(`${url}/?stream=${TIMEOUT_SECONDS * 1500}&headonly=1`, options),
      ]);
      expect(streamed, via).toMatchObject({ status: 200, body: 'first\nlast\n' });
      expect(streamed.chunks[0]!.text, via).toBe('first\n');
      expect(streamed.chunks[0]!.atMs, via).toBeLessThan(TIMEOUT_SECONDS * 1000);
      expect(streamed.endAtMs, via).toBeGreaterThanOrEqual(TIMEOUT_SECONDS * 1400);
      expect(headOnly, via).toMatchObject({ status: 200, body: 'last\n' });
      expect(headOnly.headAtMs, via).toBeLessThan(TIMEOUT_SECONDS * 1000);
    }
  });

  it('answers 504 when the app sends nothing within timeoutSeconds', async () => {
    for (const { via, url, options } of paths()) {
      const answer = await readStreamed(`${url}/?hang=1`, options);
      expect({ status: answer.status, body: answer.body }, via).toEqual({ status: 504, body: 'request timeout' });
    }
  });
});

describe("the activator's idle timeout", () => {
  let activator: ActivatorProc | undefined;
  let app: SampleApp | undefined;
  let queueProxy: QueueProxyProc | undefined;
  const client = new Agent({ connections: 2 });

  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await queueProxy?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  it("cuts a started response that stays silent for the revision's idleTimeoutSeconds", async () => {
    const ports = await reservePodPorts();
    [activator, app, queueProxy] = await Promise.all([
      startActivator(),
      startSampleApp({ PORT: String(ports.appPort) }),
      startQueueProxyFor(ports),
    ]);
    await putRevision(activator, 'stream-00001', {
      containerConcurrency: 0,
      idleTimeoutSeconds: 1,
      pods: [ports.address],
    });
    await eventually('the pod answered its probe', () =>
      activator!.lines.some((l) => l.message === 'pod answered its probe; releasing held requests'),
    );
    const startedAt = performance.now();
    await expect(
      readStreamed(`http://127.0.0.1:${activator.port}/?stream=5000`, {
        dispatcher: client,
        headers: REVISION_HEADERS,
      }),
    ).rejects.toThrow();
    expect(performance.now() - startedAt).toBeLessThan(4000);
  });
});
