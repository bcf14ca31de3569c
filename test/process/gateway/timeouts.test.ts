// Request timeouts through a real gateway process: the time-to-first-byte timeout
// (--request-timeout) and the idle timeout (--idle-timeout) each answer 504 to a request the
// upstream never answers, no sooner than the timeout and well before the next one, while quicker
// requests on the same route pass. A response that has started streams past --request-timeout;
// the idle timeout cuts one that then stays silent.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleApp, type SampleApp } from '../../../harness/processes.ts';
import { readStreamed } from '../../support/streamed.ts';
import { get, ingress, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';

// Starting several processes can take a while on a busy machine; vitest's default hook timeout is 10s.
const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'hello.default.example.com';
const TIMEOUT_MS = 400;
// Far above the sweep's granularity (a tenth of the timeout) plus scheduling delays on a busy machine.
const LATE_MS = 4_000;

describe.each([
  { flag: '--request-timeout', other: '--idle-timeout', cutsSilentStream: false },
  { flag: '--idle-timeout', other: '--request-timeout', cutsSilentStream: true },
])('gateway $flag', ({ flag, other, cutsSilentStream }) => {
  let app: SampleApp | undefined;
  let gateway: GatewayProc | undefined;
  let pool: Pool | undefined;

  beforeAll(async () => {
    app = await startSampleApp();
    gateway = await startGateway(
      {
        ingresses: [ingress('hello', [{ hosts: [HOST], paths: [{ splits: [split('hello-00001', 100)] }] }])],
        backends: [{ name: 'hello-00001', addresses: [`127.0.0.1:${app.port}`] }],
      },
      [flag, `${TIMEOUT_MS}ms`, other, '0'],
    );
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 4 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  it('answers 504 to a request the upstream never answers, after the timeout', async () => {
    const startedAt = performance.now();
    const answers = await Promise.all([get(pool!, HOST, '/?hang=1'), get(pool!, HOST, '/?hang=1')]);
    const elapsed = performance.now() - startedAt;
    for (const answer of answers) expect(answer).toMatchObject({ status: 504, text: 'request timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(elapsed).toBeLessThan(LATE_MS);
  });

  it('lets a request that answers within the timeout through, and keeps serving after a timeout', async () => {
    const timedOut = get(pool!, HOST, '/?hang=1');
    const quick = await get(pool!, HOST, `/?sleep=${TIMEOUT_MS / 4}`);
    expect(quick.status).toBe(200);
    expect((await timedOut).status).toBe(504);
    expect((await get(pool!, HOST, '/')).status).toBe(200);
  });

  it(
    cutsSilentStream
      ? 'cuts a started response that then stays silent'
      : 'passes on a started response that ends after the timeout, chunk by chunk',
    async () => {
      const streamed = readStreamed(`http://127.0.0.1:${gateway!.externalPort}/?stream=${TIMEOUT_MS * 3}`, {
        dispatcher: pool!,
        headers: { host: HOST },
      });
      if (cutsSilentStream) {
        await expect(streamed).rejects.toThrow();
        return;
      }
      const answer = await streamed;
      expect(answer).toMatchObject({ status: 200, body: 'first\nlast\n' });
      expect(answer.chunks[0]!.atMs).toBeLessThan(TIMEOUT_MS);
    },
  );
});
