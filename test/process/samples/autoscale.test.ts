// The autoscale sample's knobs for canary tests, on the real app process: FAIL_PERCENT answers
// 500 to exactly that share of requests, spread evenly, DELAY_MS holds every answer, and a bad
// value stops the app with an error naming the knob.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, track, waitForLine, type Proc } from '../../../harness/processes.ts';

const APP = join(import.meta.dirname, '..', '..', '..', 'samples', 'apps', 'autoscale.ts');
let app: Proc | undefined;

async function startApp(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  app = track(
    spawn(process.execPath, [APP], { env: { ...process.env, PORT: String(port), K_REVISION: 'v2', ...env } }),
  );
  await waitForLine(app, (line) => line.msg === 'autoscale listening');
  return `http://127.0.0.1:${port}/`;
}

afterEach(async () => {
  await app?.stop();
  app = undefined;
});

describe('the autoscale sample as a bad revision', () => {
  it('FAIL_PERCENT=20 answers 500 to every fifth request, naming its revision', async () => {
    const url = await startApp({ FAIL_PERCENT: '20' });
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await fetch(url);
      await res.text();
      expect(res.headers.get('knative-serving-revision')).toBe('v2');
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 500)).toHaveLength(10);
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 500]);
  });

  it('DELAY_MS holds every answer at least that long', async () => {
    const url = await startApp({ DELAY_MS: '250' });
    const started = performance.now();
    const res = await fetch(url);
    expect(await res.text()).toBe('');
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('a bad value stops the app with the knob and its rule', async () => {
    app = track(spawn(process.execPath, [APP], { env: { ...process.env, PORT: '0', FAIL_PERCENT: '120' } }));
    expect(await app.exited).not.toBe(0);
    expect(JSON.stringify(app.lines)).toContain('FAIL_PERCENT: \\"120\\" must be a number from 0 to 100');
  });
});
