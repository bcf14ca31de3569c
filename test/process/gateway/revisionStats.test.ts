// The gateway's per-revision live figures through a real gateway process: two revisions behind a
// 50/50 split, one of them failing every 4th request, and GET /revisions/stats on the admin port
// counting each revision's requests and 5xx answers as the clients saw them.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleApp, type SampleApp } from '../../../harness/processes.ts';
import { get, ingress, revisionOf, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';
import type { RevisionStatsReport } from '../../../lib/stats/revisionFigures.ts';

const HOOK_TIMEOUT_MS = 60_000;
const REQUESTS = 200;

describe('GET /revisions/stats', () => {
  const apps: SampleApp[] = [];
  let gateway: GatewayProc;
  let pool: Pool;

  beforeAll(async () => {
    apps.push(...(await Promise.all([startSampleApp(), startSampleApp({ APP_FAIL_EVERY: '4' })])));
    const [good, failing] = apps.map((app) => `127.0.0.1:${app.port}`);
    gateway = await startGateway({
      ingresses: [
        ingress('app', [
          { hosts: ['app.default.example.com'], paths: [{ splits: [split('app-00001', 50), split('app-00002', 50)] }] },
        ]),
      ],
      backends: [
        { name: 'app-00001', addresses: [good!] },
        { name: 'app-00002', addresses: [failing!] },
      ],
    });
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 4 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await Promise.all(apps.map((app) => app.stop()));
  });

  const stats = async (query: string) => {
    const res = await fetch(`http://127.0.0.1:${gateway.adminPort}/revisions/stats?${query}`);
    return {
      status: res.status,
      body: res.status === 200 ? ((await res.json()) as RevisionStatsReport) : await res.text(),
    };
  };

  it('counts requests, 5xx answers and latencies per revision as the clients saw them', async () => {
    const seen = new Map<string, { requests: number; errors: number }>();
    for (let i = 0; i < REQUESTS; i++) {
      const answer = await get(pool, 'app.default.example.com');
      // A 500 from the failing app names no revision in its body: the failing app is app-00002.
      const revision = answer.status === 500 ? 'app-00002' : revisionOf(answer.text);
      const counts = seen.get(revision) ?? { requests: 0, errors: 0 };
      counts.requests++;
      if (answer.status >= 500) counts.errors++;
      seen.set(revision, counts);
    }
    expect(seen.get('app-00001')).toEqual({ requests: 100, errors: 0 });
    expect(seen.get('app-00002')).toEqual({ requests: 100, errors: 25 });

    const { status, body } = await stats('window=5m&namespace=default');
    expect(status).toBe(200);
    const report = body as RevisionStatsReport;
    const byRevision = new Map(report.revisions.map((r) => [r.revision, r]));
    for (const revision of ['app-00001', 'app-00002']) {
      const figures = byRevision.get(revision);
      expect(figures).toMatchObject({ namespace: 'default', ...seen.get(revision) });
      expect(figures!.latency.reduce((sum, n) => sum + n, 0)).toBe(100);
      expect(figures!.p99Ms).toBeGreaterThan(0);
    }
    expect((await stats('window=5m&namespace=elsewhere')).body).toMatchObject({ revisions: [] });
  });

  it('answers a bad window with 400 and the rule', async () => {
    expect(await stats('window=-1s')).toEqual({
      status: 400,
      body: 'window: -1s is not a positive duration such as 30s or 5m',
    });
  });
});
