// With a kubeconfig context already configured, `pilotlight up` installs into that cluster and
// touches nothing on this machine.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBinaries } from '../../../cli/cluster/binaries.ts';
import { recordedProcesses } from '../../../cli/cluster/processes.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', '..', 'cli', 'main.ts');
const clusterState = mkdtempSync(join(tmpdir(), 'pilotlight-configured-'));
const userState = mkdtempSync(join(tmpdir(), 'pilotlight-user-'));
const kubeconfig = join(clusterState, 'kubeconfig');
const pilotlight = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [cli, ...args], {
    timeout: 900_000,
    env: { ...process.env, ...env },
    maxBuffer: 16 * 1024 * 1024,
  });

afterAll(async () => {
  await pilotlight(['down', '--state-dir', clusterState]).catch(() => {});
  rmSync(clusterState, { recursive: true, force: true });
  rmSync(userState, { recursive: true, force: true });
}, 120_000);

describe('pilotlight up with a configured cluster', () => {
  it('asks for a pullable image, then installs the chart there and starts nothing here', async () => {
    await pilotlight(['up', '--control-plane-only', '--state-dir', clusterState]);
    const hostAddressesBefore = (await run('ip', ['-o', 'addr'])).stdout;

    await expect(pilotlight(['up', '--state-dir', userState], { KUBECONFIG: kubeconfig })).rejects.toMatchObject({
      stderr: expect.stringMatching(/needs --image REGISTRY\/pilotlight:TAG/),
    });

    const installed = await pilotlight(
      ['up', '--state-dir', userState, '--image', 'registry.example.com/pilotlight/pilotlight:v1'],
      { KUBECONFIG: kubeconfig },
    );
    expect(installed.stdout.trim().split('\n').at(-1)).toBe(`KUBECONFIG=${kubeconfig}`);

    const kubectl = join(await ensureBinaries(['kubectl']), 'kubectl');
    const { stdout } = await run(
      kubectl,
      [
        'get',
        'deployments',
        '-n',
        'knative-serving',
        '-o',
        'jsonpath={range .items[*]}{.metadata.name}={.spec.template.spec.containers[0].image}{"\\n"}{end}',
      ],
      { env: { ...process.env, KUBECONFIG: kubeconfig } },
    );
    expect(stdout.trim().split('\n').sort()).toEqual(
      ['activator', 'autoscaler', 'controller', 'gateway'].map(
        (name) => `${name}=registry.example.com/pilotlight/pilotlight:v1`,
      ),
    );
    const crds = await run(kubectl, ['get', 'crd', 'services.serving.knative.dev', '-o', 'name'], {
      env: { ...process.env, KUBECONFIG: kubeconfig },
    });
    expect(crds.stdout.trim()).toBe('customresourcedefinition.apiextensions.k8s.io/services.serving.knative.dev');

    expect(recordedProcesses(userState)).toEqual([]);
    expect((await run('ip', ['-o', 'addr'])).stdout).toBe(hostAddressesBefore);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(userState);
  });
});
