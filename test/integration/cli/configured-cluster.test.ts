// `pilotlight up --image …` against a cluster someone else runs, as a platform team meets it: a
// kubeconfig with several contexts whose user gets its token from an exec credential plugin (as
// EKS, GKE and AKS configure), a TLS server name differing from the address, helm from PATH, and
// no Go anywhere on the PATH. The cluster is a control plane of its own (the harness's code) that
// accepts only the plugin's token for that user.
import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { ensureTool } from '../../../cli/cluster/binaries.ts';
import { type ControlPlane, startControlPlane, stopControlPlane } from '../../../cli/cluster/controlPlane.ts';
import { recordedProcesses } from '../../../cli/cluster/processes.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', '..', 'cli', 'main.ts');
const work = mkdtempSync(join(tmpdir(), 'pilotlight-configured-'));
const clusterState = join(work, 'cluster');
const userState = join(work, 'user');
const bin = join(work, 'bin');
const pluginCalls = join(work, 'plugin-calls');
const kubeconfig = join(work, 'kubeconfig');
const EXEC_TOKEN = 'exec-plugin-token-0123456789abcdef';
let controlPlane: ControlPlane;

/** The CLI with a PATH of node and helm only: no Go, no kubectl. */
const pilotlight = (args: string[]) =>
  run(join(bin, 'node'), [cli, ...args, '--state-dir', userState], {
    timeout: 300_000,
    env: { HOME: work, PATH: bin, KUBECONFIG: kubeconfig },
    maxBuffer: 16 * 1024 * 1024,
  });

beforeAll(async () => {
  mkdirSync(bin, { recursive: true });
  // Built from the Go module proxy on empty caches (minutes); the test's own process may use Go.
  symlinkSync(await ensureTool('helm'), join(bin, 'helm'));
  symlinkSync(process.execPath, join(bin, 'node'));
  controlPlane = await startControlPlane({
    stateDir: clusterState,
    ephemeral: true,
    tokenUsers: [{ token: EXEC_TOKEN, user: 'platform-admin', groups: ['system:masters'] }],
  });
  const plugin = join(work, 'credential-plugin');
  writeFileSync(
    plugin,
    `#!/bin/sh\necho call >> ${pluginCalls}\nprintf '%s' '${JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: EXEC_TOKEN },
    })}'\n`,
  );
  chmodSync(plugin, 0o755);
  const port = new URL(controlPlane.server).port;
  const ca = Buffer.from(controlPlane.caCertificate).toString('base64');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        // The serving certificate names `kubernetes`, not this address: tls-server-name makes it match.
        {
          name: 'platform',
          cluster: {
            server: `https://127.0.0.1:${port}`,
            'certificate-authority-data': ca,
            'tls-server-name': 'kubernetes',
          },
        },
        { name: 'elsewhere', cluster: { server: 'https://127.0.0.1:1', 'certificate-authority-data': ca } },
      ],
      users: [
        {
          name: 'platform-admin',
          user: {
            exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' },
          },
        },
        { name: 'nobody', user: { token: 'not-accepted' } },
      ],
      contexts: [
        { name: 'elsewhere', context: { cluster: 'elsewhere', user: 'nobody' } },
        { name: 'platform', context: { cluster: 'platform', user: 'platform-admin' } },
      ],
      'current-context': 'elsewhere',
    }),
  );
}, 20 * 60_000);

afterAll(async () => {
  await stopControlPlane(clusterState);
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('pilotlight up with a configured cluster', () => {
  it('refuses a context that does not answer, naming it, and asks for a pullable image', async () => {
    await expect(pilotlight(['up'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/context elsewhere names https:\/\/127\.0\.0\.1:1, which did not answer/),
    });
    await expect(pilotlight(['up', '--context', 'nowhere'])).rejects.toMatchObject({
      stderr: expect.stringMatching(
        /--context nowhere: no such context in the kubeconfig \(it has: elsewhere, platform\)/,
      ),
    });
    await expect(pilotlight(['up', '--context', 'platform'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/\(context platform\) needs --image REGISTRY\/pilotlight:TAG/),
    });
  });

  it("installs the chart with the exec plugin's credentials, with no Go on the PATH, and starts nothing here", async () => {
    expect(existsSync(join(bin, 'go'))).toBe(false);
    const callsBefore = existsSync(pluginCalls) ? readFileSync(pluginCalls, 'utf8').split('\n').length : 0;
    const installed = await pilotlight([
      'up',
      '--context',
      'platform',
      '--image',
      'registry.example.com/pilotlight/pilotlight:v1',
    ]);
    expect(installed.stdout.trim().split('\n').at(-1)).toBe(`KUBECONFIG=${kubeconfig}`);
    // The CLI's version check and helm each ran the plugin.
    expect(readFileSync(pluginCalls, 'utf8').split('\n').length).toBeGreaterThan(callsBefore + 1);

    const kubectl = (args: string[]) =>
      run(inject('kubectl'), args, { env: { ...process.env, KUBECONFIG: controlPlane.kubeconfig } });
    const { stdout } = await kubectl([
      'get',
      'deployments',
      '-n',
      'knative-serving',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.spec.template.spec.containers[0].image}{"\\n"}{end}',
    ]);
    expect(stdout.trim().split('\n').sort()).toEqual(
      ['activator', 'autoscaler', 'controller', 'gateway'].map(
        (name) => `${name}=registry.example.com/pilotlight/pilotlight:v1`,
      ),
    );
    const crd = await kubectl(['get', 'crd', 'services.serving.knative.dev', '-o', 'name']);
    expect(crd.stdout.trim()).toBe('customresourcedefinition.apiextensions.k8s.io/services.serving.knative.dev');
    const release = await kubectl(['get', 'secrets', '-n', 'knative-serving', '-l', 'owner=helm', '-o', 'name']);
    expect(release.stdout).toContain('sh.helm.release.v1.pilotlight.v1');
    expect(recordedProcesses(userState)).toEqual([]);
  });
});
