// The cluster DNS of `pilotlight up` (cli/cluster/dns.ts) against the real API server: its
// manifests are accepted, and CoreDNS, run on this machine with the Corefile the cluster uses and
// the rights of its own ServiceAccount, answers real DNS queries for Services.
import { spawn, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ensureTool } from '../../../cli/cluster/binaries.ts';
import { CLUSTER_DOMAIN, DNS_SERVICE_IP, corefile, dnsManifests } from '../../../cli/cluster/dns.ts';
import { freePort } from '../../../cli/cluster/processes.ts';
import { apply, createNamespace, kubectl, mustSucceed } from '../../support/kube.ts';

describe('cluster DNS (CoreDNS)', () => {
  let unavailable: string | undefined;
  let coredns: ChildProcess | undefined;
  let output = '';
  const dir = mkdtempSync(join(tmpdir(), 'pilotlight-dns-'));
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });

  // On empty caches CoreDNS is built from the Go module proxy first: minutes, not part of the test.
  beforeAll(async () => {
    const binary = await ensureTool('coredns').catch((error: Error) => {
      unavailable = `CoreDNS could not be built (hack/build-tool.sh coredns): ${error.message}`;
    });
    if (!binary) return;
    await mustSucceed(
      kubectl(
        ['apply', '-f', '-'],
        dnsManifests('dev.local/pilotlight/coredns:test')
          .map((m) => stringify(m))
          .join('---\n'),
      ),
    );
    // A kubeconfig carrying the coredns ServiceAccount's token, so its ClusterRole is what is tested.
    const admin = JSON.parse(await mustSucceed(kubectl(['config', 'view', '--raw', '--minify', '-o', 'json'])));
    const token = (
      await mustSucceed(kubectl(['create', 'token', 'coredns', '-n', 'kube-system', '--duration=1h']))
    ).trim();
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: admin.clusters,
        'current-context': 'coredns',
        contexts: [{ name: 'coredns', context: { cluster: admin.clusters[0].name, user: 'coredns' } }],
        users: [{ name: 'coredns', user: { token } }],
      }),
    );
    const [port, healthPort, readyPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(join(dir, 'Corefile'), corefile({ port, healthPort, readyPort, kubeconfig }));
    coredns = spawn(binary, ['-conf', join(dir, 'Corefile')], { stdio: ['ignore', 'pipe', 'pipe'] });
    coredns.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    coredns.stderr!.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    // Ready once the kubernetes plugin has listed Services, EndpointSlices and Namespaces.
    for (let i = 0; i < 150; i++) {
      if (coredns.exitCode !== null) throw new Error(`coredns exited (${coredns.exitCode}):\n${output}`);
      if (
        await fetch(`http://127.0.0.1:${readyPort}/ready`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await sleep(200);
    }
    if (
      !(await fetch(`http://127.0.0.1:${readyPort}/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      throw new Error(`coredns not ready within 30 s:\n${output}`);
    resolver.setServers([`127.0.0.1:${port}`]);
  }, 20 * 60_000);

  afterAll(() => {
    coredns?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  /** What glibc does for a name with fewer than ndots (5) dots in a pod of `namespace`: the search list first. */
  async function resolveInPod(namespace: string, name: string): Promise<string[]> {
    const search = [`${namespace}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN];
    for (const candidate of [...search.map((domain) => `${name}.${domain}`), name]) {
      try {
        return await resolver.resolve4(candidate);
      } catch (error) {
        if (!['ENOTFOUND', 'ENODATA'].includes((error as NodeJS.ErrnoException).code!)) throw error;
      }
    }
    throw new Error(`${name} not found`);
  }

  it('the API server accepts the kube-system manifests, kube-dns at its fixed ClusterIP', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const { stdout } = await kubectl([
      'get',
      'service',
      'kube-dns',
      '-n',
      'kube-system',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]);
    expect(stdout).toBe(DNS_SERVICE_IP);
  });

  it('resolves kubernetes.default.svc.cluster.local to the API server Service', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const { stdout: ip } = await kubectl([
      'get',
      'service',
      'kubernetes',
      '-n',
      'default',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]);
    expect(await resolver.resolve4('kubernetes.default.svc.cluster.local')).toEqual([ip]);
  });

  // Knative's KIngress conformance test `visibility` resolves the gateway's private load balancer
  // by all three names from a pod in another namespace.
  it('resolves a new Service by <svc>.<ns>.svc.cluster.local, <svc>.<ns>.svc and <svc>.<ns> from another namespace', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const ns = await createNamespace('dns');
    // Looked up before it exists: the NXDOMAIN is cached for at most the 5 s TTL.
    await expect(resolver.resolve4(`private.${ns}.svc.cluster.local`)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await mustSucceed(
      apply(ns, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'private' }, spec: { ports: [{ port: 80 }] } }),
    );
    const { stdout: ip } = await kubectl(['get', 'service', 'private', '-n', ns, '-o', 'jsonpath={.spec.clusterIP}']);
    const created = Date.now();
    let answer: string[] = [];
    for (let i = 0; i < 80 && answer.length === 0; i++) {
      answer = await resolver.resolve4(`private.${ns}.svc.cluster.local`).catch(() => []);
      if (answer.length === 0) await sleep(100);
    }
    expect(answer).toEqual([ip]);
    expect(Date.now() - created).toBeLessThan(7_000);
    for (const name of [`private.${ns}.svc`, `private.${ns}`]) expect(await resolveInPod('other', name)).toEqual([ip]);
    expect(await resolver.reverse(ip)).toEqual([`private.${ns}.svc.cluster.local`]);
  });

  it('answers a headless Service with the addresses of its ready EndpointSlice endpoints', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const ns = await createNamespace('dns');
    await mustSucceed(
      apply(ns, [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'pods' },
          spec: { clusterIP: 'None', ports: [{ port: 8080 }] },
        },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'pods-1', labels: { 'kubernetes.io/service-name': 'pods' } },
          addressType: 'IPv4',
          ports: [{ port: 8080, protocol: 'TCP' }],
          endpoints: [
            { addresses: ['10.244.0.7'], conditions: { ready: true } },
            { addresses: ['10.244.0.8'], conditions: { ready: true } },
            { addresses: ['10.244.0.9'], conditions: { ready: false } },
          ],
        },
      ]),
    );
    let answer: string[] = [];
    for (let i = 0; i < 50 && answer.length < 2; i++) {
      answer = await resolver.resolve4(`pods.${ns}.svc.cluster.local`).catch(() => []);
      if (answer.length < 2) await sleep(100);
    }
    expect(answer.sort()).toEqual(['10.244.0.7', '10.244.0.8']);
  });

  it('answers NXDOMAIN for an unknown Service and REFUSED for names outside the cluster: nothing is forwarded', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    await expect(resolver.resolve4('missing.default.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve4('example.com')).rejects.toMatchObject({ code: 'EREFUSED' });
    expect(output).not.toMatch(/forbidden/i);
  });
});
