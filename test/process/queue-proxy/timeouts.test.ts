// The revision's timeouts enforced by a real queue-proxy in front of an app that never answers.
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import { readStreamed } from '../../support/streamed.ts';

describe('revision timeouts', () => {
  let app: SampleApp | undefined;
  let qp: QueueProxyProc | undefined;
  const client = new Agent({ connections: 8 });

  // Timed-out requests must not leave the pipeline thinking work is in progress: a clean exit
  // after SIGTERM proves every request was accounted for.
  afterEach(async () => {
    expect(await qp?.stop()).toBe(0);
    await app?.stop();
  });

  async function call(path: string): Promise<{ status: number; body: string }> {
    const res = await request(`http://127.0.0.1:${qp!.servingPort}${path}`, { dispatcher: client });
    return { status: res.statusCode, body: await res.body.text() };
  }

  it('answers 504 "request timeout" when the app does not respond within timeoutSeconds, queued requests included', async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { REVISION_TIMEOUT_SECONDS: '1', CONTAINER_CONCURRENCY: '1' });
    const [inApp, queued] = await Promise.all([call('/hang?hang=1'), call('/queued-behind-hang?hang=1')]);
    expect(inApp).toEqual({ status: 504, body: 'request timeout' });
    expect(queued).toEqual({ status: 504, body: 'request timeout' });
    // The hung request's slot was given back: the app is reachable again.
    expect((await call('/after')).status).toBe(200);
  });

  // Knative's TestRevisionTimeout "writes first byte before timeout": timeoutSeconds bounds the
  // time to the first byte, and a response that started streams on, each chunk as it is written.
  it('lets a response that started within timeoutSeconds stream on past it, passing chunks on as they come', async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { REVISION_TIMEOUT_SECONDS: '1' });
    const url = `http://127.0.0.1:${qp.servingPort}`;
    const [streamed, headOnly] = await Promise.all([
      readStreamed(`${url}/?stream=1500`, { dispatcher: client }),
      readStreamed(`${url}/?stream=1500&headonly=1`, { dispatcher: client }),
    ]);
    expect(streamed).toMatchObject({ status: 200, body: 'first\nlast\n' });
    expect(streamed.chunks[0]).toMatchObject({ text: 'first\n' });
    expect(streamed.chunks[0]!.atMs).toBeLessThan(1000);
    expect(streamed.endAtMs).toBeGreaterThanOrEqual(1400);
    expect(headOnly).toMatchObject({ status: 200, body: 'last\n' });
    expect(headOnly.headAtMs).toBeLessThan(1000);
  });

  it('cuts a started response that then stays silent for idleTimeoutSeconds', async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { REVISION_TIMEOUT_SECONDS: '30', REVISION_IDLE_TIMEOUT_SECONDS: '1' });
    await expect(
      readStreamed(`http://127.0.0.1:${qp.servingPort}/?stream=3000`, { dispatcher: client }),
    ).rejects.toThrow();
  });

  it('answers 504 when no response started within responseStartTimeoutSeconds', async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, {
      REVISION_TIMEOUT_SECONDS: '30',
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: '1',
    });
    expect(await call('/hang?hang=1')).toEqual({ status: 504, body: 'request timeout' });
  });

  it('answers 504 when the app stays silent for idleTimeoutSeconds', async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { REVISION_TIMEOUT_SECONDS: '30', REVISION_IDLE_TIMEOUT_SECONDS: '1' });
    expect(await call('/hang?hang=1')).toEqual({ status: 504, body: 'request timeout' });
  });
});
