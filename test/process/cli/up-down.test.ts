import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBinaries } from '../../../cli/cluster/binaries.ts';
import { isRunning, recordedProcesses } from '../../../cli/cluster/processes.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', '..', 'cli', 'main.ts');
const stateDir = mkdtempSync(join(tmpdir(), 'pilotlight-cli-'));
const pilotlight = (...args: string[]) =>
  run(process.execPath, [cli, ...args, '--state-dir', stateDir], { timeout: 600_000 });

afterAll(async () => {
  await pilotlight('down').catch(() => {});
  rmSync(stateDir, { recursive: true, force: true });
});

describe('pilotlight up --control-plane-only / status / down', () => {
  it('starts a control plane that kubectl can use, is idempotent, and leaves nothing running after down, and the host as it was', async () => {
    const first = await pilotlight('up', '--control-plane-only');
    const lastLine = first.stdout.trim().split('\n').at(-1)!;
    expect(lastLine).toBe(`KUBECONFIG=${join(stateDir, 'kubeconfig')}`);

    const kubectl = join(await ensureBinaries(['kubectl']), 'kubectl');
    const namespaces = await run(kubectl, ['get', 'namespaces', '-o', 'name'], {
      env: { ...process.env, KUBECONFIG: join(stateDir, 'kubeconfig') },
    });
    expect(namespaces.stdout).toContain('namespace/default');

    const pids = recordedProcesses(stateDir);
    expect(pids.map((p) => p.name).sort()).toEqual(['etcd', 'kube-apiserver']);
    const again = await pilotlight('up', '--control-plane-only');
    expect(again.stdout).toContain('control plane already running');
    expect(
      recordedProcesses(stateDir)
        .map((p) => p.pid)
        .sort(),
    ).toEqual(pids.map((p) => p.pid).sort());

    const status = await pilotlight('status');
    expect(status.stdout).toMatch(/API server ready at https:\/\/127\.0\.0\.1:\d+/);

    // A control plane alone never touched the host's network: down leaves it (and any node
    // another state directory runs there) as it was.
    const addressesBefore = (await run('ip', ['-o', 'addr'])).stdout;
    const down = await pilotlight('down');
    expect((await run('ip', ['-o', 'addr'])).stdout).toBe(addressesBefore);
    expect(down.stdout).toContain('stopped');
    for (const p of pids) expect(isRunning(p.pid, p.binary)).toBe(false);
    expect(existsSync(join(stateDir, 'kubeconfig'))).toBe(false);
    expect(existsSync(join(stateDir, 'etcd'))).toBe(false);
    await expect(pilotlight('status')).rejects.toMatchObject({ code: 1 });
  });
});
