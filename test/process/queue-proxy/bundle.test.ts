// queue-proxy as the image runs it: compiled (cli/images/compile.ts), its folder bundled into one
// module (cli/images/bundle.ts), started through cli/main.js with the pod's node flags. The other
// process tests run the .ts sources; this one proves the bundle is the same proxy.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { spawn } from 'node:child_process';
import { bundleComponent } from '../../../cli/images/bundle.ts';
import { compileTree } from '../../../cli/images/compile.ts';
import { QUEUE_NODE_FLAGS } from '../../../controllers/revision/resources/queueContainer.ts';
import {
  loopbackQueueProxyEnv,
  startSampleApp,
  track,
  waitForLine,
  type Proc,
  type SampleApp,
} from '../../../harness/processes.ts';

const root = join(import.meta.dirname, '..', '..', '..');
let tree: string;
let app: SampleApp;
let proxy: Proc;
let servingPort: number;

beforeAll(async () => {
  tree = mkdtempSync(join(tmpdir(), 'pilotlight-bundle-'));
  compileTree(root, ['cli/main.ts', 'lib', 'queue-proxy', 'package.json'], tree);
  await bundleComponent(tree, 'queue-proxy');
  app = await startSampleApp();
  proxy = track(
    spawn(process.execPath, [...QUEUE_NODE_FLAGS.optimizing, join(tree, 'cli', 'main.js'), 'queue-proxy'], {
      env: {
        ...process.env,
        ...loopbackQueueProxyEnv(app.port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  servingPort = (await waitForLine(proxy, (l) => l.message === 'queue-proxy started')).servingPort as number;
});

afterAll(async () => {
  await proxy?.stop();
  await app?.stop();
  rmSync(tree, { recursive: true, force: true });
});

describe('queue-proxy bundled as in the image', () => {
  it('is one module that imports only packages and built-ins', () => {
    expect(readdirSync(join(tree, 'queue-proxy'))).toEqual(['main.js']);
    const code = readFileSync(join(tree, 'queue-proxy', 'main.js'), 'utf8');
    const specifiers = [...code.matchAll(/\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => s!.startsWith('.'))).toEqual([]);
  });

  it('answers the readiness probe and proxies to the app', async () => {
    const probe = await request(`http://127.0.0.1:${servingPort}/`, {
      headers: { 'user-agent': 'kube-probe/1.34', 'k-network-probe': 'queue' },
    });
    await probe.body.dump();
    expect(probe.statusCode).toBe(200);
    const res = await request(`http://127.0.0.1:${servingPort}/_stats`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toHaveProperty('maxInFlight');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await proxy.stop()).toBe(0);
    expect(proxy.lines.some((l) => l.message === 'drained')).toBe(true);
  });
});
