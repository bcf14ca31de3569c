// Changing routes while traffic flows: a rewritten routes file swaps the table under bounded load
// without a single failed request, a request in flight to a revision that was removed still
// completes, and SIGTERM drains requests in progress before the gateway exits.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleApp, waitForLine, type SampleApp } from '../../../harness/processes.ts';
import {
  get,
  ingress,
  revisionOf,
  split,
  startGateway,
  type GatewayProc,
  type RoutesFile,
} from '../../../harness/gateway.ts';

// Starting several processes can take a while on a busy machine; vitest's default hook timeout is 10s.
const HOOK_TIMEOUT_MS = 60_000;

const HOST = 'live.default.example.com';
const OLD_HOST = 'old-live.default.example.com';
const WORKERS = 8;
const MAX_LOAD_REQUESTS = 20_000;
const MAX_LOAD_MS = 20_000;

interface LoadTally {
  ok: number;
  failed: string[];
  revisions: Map<string, number>;
}

/** Closed-loop load from WORKERS clients until `stop` resolves, bounded in count and time. */
function loadUntil(pool: Pool, stop: Promise<void>): Promise<LoadTally> {
  const tally: LoadTally = { ok: 0, failed: [], revisions: new Map() };
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const startedAt = Date.now();
  let issued = 0;
  const worker = async () => {
    while (!stopped && issued < MAX_LOAD_REQUESTS && Date.now() - startedAt < MAX_LOAD_MS) {
      issued++;
      try {
        const answer = await get(pool, HOST);
        if (answer.status !== 200) tally.failed.push(`${answer.status} ${answer.text}`);
        else {
          tally.ok++;
          const revision = revisionOf(answer.text);
          tally.revisions.set(revision, (tally.revisions.get(revision) ?? 0) + 1);
        }
      } catch (error) {
        tally.failed.push(String(error));
      }
    }
  };
  return Promise.all(Array.from({ length: WORKERS }, worker)).then(() => tally);
}

async function windowOf100(pool: Pool): Promise<Record<string, number>> {
  const answers = await Promise.all(Array.from({ length: 100 }, () => get(pool, HOST)));
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[revisionOf(answer.text)] = (counts[revisionOf(answer.text)] ?? 0) + 1;
  return counts;
}

async function appInFlight(app: SampleApp): Promise<number> {
  return ((await (await fetch(`http://127.0.0.1:${app.port}/_stats`)).json()) as { inFlight: number }).inFlight;
}

describe('routing updates and shutdown', () => {
  const apps: SampleApp[] = [];
  let gateway: GatewayProc;
  let pool: Pool;
  let before: RoutesFile;
  let after: RoutesFile;

  beforeAll(async () => {
    apps.push(...(await Promise.all([startSampleApp(), startSampleApp(), startSampleApp()])));
    const [a, b, c] = apps.map((app) => `127.0.0.1:${app.port}`);
    before = {
      ingresses: [
        ingress('live', [
          { hosts: [HOST], paths: [{ splits: [split('live-00001', 90), split('live-00002', 10)] }] },
          { hosts: [OLD_HOST], paths: [{ splits: [split('live-00002', 100)] }] },
        ]),
      ],
      backends: [
        { name: 'live-00001', addresses: [a!] },
        { name: 'live-00002', addresses: [b!] },
      ],
    };
    // live-00002 and its app disappear from the routes; live-00003 takes 90%.
    after = {
      ingresses: [
        ingress('live', [{ hosts: [HOST], paths: [{ splits: [split('live-00001', 10), split('live-00003', 90)] }] }]),
      ],
      backends: [
        { name: 'live-00001', addresses: [a!] },
        { name: 'live-00003', addresses: [c!] },
      ],
    };
    gateway = await startGateway(before);
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: WORKERS + 2 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await Promise.all(apps.map((app) => app.stop()));
  }, HOOK_TIMEOUT_MS);

  it('swaps the split under load with zero failed requests and lets requests to removed backends finish', async () => {
    expect(await windowOf100(pool)).toEqual({ 'live-00001': 90, 'live-00002': 10 });
    const slowToRemoved = get(pool, OLD_HOST, '/?sleep=500');
    let finishLoad!: () => void;
    const load = loadUntil(
      pool,
      new Promise<void>((resolve) => {
        finishLoad = resolve;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await gateway.update(after);
    await new Promise((resolve) => setTimeout(resolve, 200));
    finishLoad();
    const tally = await load;

    expect(tally.failed).toEqual([]);
    expect(tally.ok).toBeGreaterThan(0);
    expect(tally.revisions.get('live-00003')).toBeGreaterThan(0);
    const slow = await slowToRemoved;
    expect(slow.status).toBe(200);
    expect(revisionOf(slow.text)).toBe('live-00002');
    for (let w = 0; w < 5; w++) expect(await windowOf100(pool)).toEqual({ 'live-00001': 10, 'live-00003': 90 });
    expect((await get(pool, OLD_HOST)).status).toBe(404);
  });

  it('ignores a routes file that does not parse and keeps routing', async () => {
    gateway.rewrite({ ingresses: [{ metadata: {} }], backends: [] });
    await waitForLine(gateway, (line) => line.message === 'routes file invalid; keeping the previous routing');
    expect((await get(pool, HOST)).status).toBe(200);
  });

  it('drains a request in progress on SIGTERM, then exits cleanly', async () => {
    const inFlight = get(pool, HOST, '/?sleep=400');
    // Until an app holds the request, SIGTERM could race its arrival.
    for (let i = 0; i < 200 && (await Promise.all(apps.map(appInFlight))).every((n) => n === 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    gateway.child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await gateway.exited).toBe(0);
    expect(gateway.lines.some((line) => line.message === 'gateway drained' && line.openAtShutdown === 1)).toBe(true);
  });
});
