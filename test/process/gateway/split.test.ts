// Percent splits through a real gateway process to real app processes: every window of 100
// requests matches the percents exactly, so 10,000 requests do too (well inside ±1%).
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleApp, type SampleApp } from '../../../harness/processes.ts';
import { get, ingress, revisionOf, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';

// Starting several processes can take a while on a busy machine; vitest's default hook timeout is 10s.
const HOOK_TIMEOUT_MS = 60_000;

const WINDOW = 100;
const WINDOWS = 100;

/** Sends windows of 100 concurrent requests one after another and counts each window's revisions. */
async function countWindows(pool: Pool, host: string): Promise<Array<Map<string, number>>> {
  const windows: Array<Map<string, number>> = [];
  for (let w = 0; w < WINDOWS; w++) {
    const answers = await Promise.all(Array.from({ length: WINDOW }, () => get(pool, host)));
    const counts = new Map<string, number>();
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      const revision = revisionOf(answer.text);
      counts.set(revision, (counts.get(revision) ?? 0) + 1);
    }
    windows.push(counts);
  }
  return windows;
}

async function appRequests(app: SampleApp): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${app.port}/_stats`);
  return ((await res.json()) as { requests: number }).requests;
}

describe('percent splits', () => {
  const apps: SampleApp[] = [];
  let gateway: GatewayProc;
  let pool: Pool;

  beforeAll(async () => {
    apps.push(...(await Promise.all([startSampleApp(), startSampleApp(), startSampleApp()])));
    const [a, b, c] = apps.map((app) => `127.0.0.1:${app.port}`);
    gateway = await startGateway({
      ingresses: [
        ingress('ninety', [
          {
            hosts: ['ninety.default.example.com'],
            paths: [{ splits: [split('ninety-00001', 90), split('ninety-00002', 10)] }],
          },
        ]),
        ingress('thirds', [
          {
            hosts: ['thirds.default.example.com'],
            paths: [{ splits: [split('thirds-00001', 33), split('thirds-00002', 33), split('thirds-00003', 34)] }],
          },
        ]),
      ],
      backends: [
        { name: 'ninety-00001', addresses: [a!] },
        { name: 'ninety-00002', addresses: [b!] },
        { name: 'thirds-00001', addresses: [a!] },
        { name: 'thirds-00002', addresses: [b!] },
        { name: 'thirds-00003', addresses: [c!] },
      ],
    });
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 32 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await Promise.all(apps.map((app) => app.stop()));
  }, HOOK_TIMEOUT_MS);

  it('sends 90/10 exactly in every window of 100, and each app served what its revision header says', async () => {
    const before = await Promise.all(apps.map(appRequests));
    const windows = await countWindows(pool, 'ninety.default.example.com');
    for (const counts of windows)
      expect(Object.fromEntries(counts)).toEqual({ 'ninety-00001': 90, 'ninety-00002': 10 });
    const after = await Promise.all(apps.map(appRequests));
    expect(after.map((n, i) => n - before[i]!)).toEqual([9000, 1000, 0]);
  });

  it('sends 33/33/34 exactly in every window of 100 over 10,000 requests', async () => {
    const before = await Promise.all(apps.map(appRequests));
    const windows = await countWindows(pool, 'thirds.default.example.com');
    for (const counts of windows)
      expect(Object.fromEntries(counts)).toEqual({ 'thirds-00001': 33, 'thirds-00002': 33, 'thirds-00003': 34 });
    const after = await Promise.all(apps.map(appRequests));
    expect(after.map((n, i) => n - before[i]!)).toEqual([3300, 3300, 3400]);
  });
});
