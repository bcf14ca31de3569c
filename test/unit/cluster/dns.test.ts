import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLUSTER_DOMAIN, DNS_SERVICE_IP, corefile, dnsManifests } from '../../../cli/cluster/dns.ts';
import { SERVICE_CIDR, kubeletConfig } from '../../../cli/cluster/node.ts';

type Obj = Record<string, any>;
const byKind = (kind: string) =>
  dnsManifests('10.245.0.1:5000/pilotlight/coredns:test').find((m) => (m as Obj).kind === kind) as Obj;

describe('cluster DNS for the local node', () => {
  it('the Corefile serves only the cluster zones and forwards nothing off the machine', () => {
    const text = corefile();
    expect(text.split('\n')[0]).toBe('cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {');
    expect(text).toContain('kubernetes cluster.local in-addr.arpa ip6.arpa {');
    expect(text).not.toMatch(/\bforward\b|\bproxy\b|\bgrpc\b|\bfallthrough\b/);
    expect(text).not.toContain('kubeconfig');
    expect(text).toContain('health :8080');
    expect(text).toContain('ready :8181');
  });

  it('the Corefile for a host process takes its ports and kubeconfig', () => {
    const text = corefile({ port: 5353, healthPort: 1, readyPort: 2, kubeconfig: '/tmp/k' });
    expect(text.split('\n')[0]).toBe('cluster.local:5353 in-addr.arpa:5353 ip6.arpa:5353 {');
    expect(text).toContain('health :1');
    expect(text).toContain('ready :2');
    expect(text).toContain('        kubeconfig /tmp/k\n');
  });

  it('kube-dns has the fixed ClusterIP in the service range, on 53 UDP and TCP', () => {
    const service = byKind('Service');
    expect(service.metadata).toMatchObject({ name: 'kube-dns', namespace: 'kube-system' });
    expect(service.spec.clusterIP).toBe(DNS_SERVICE_IP);
    expect(DNS_SERVICE_IP.startsWith(`${SERVICE_CIDR.split('.').slice(0, 2).join('.')}.`)).toBe(true);
    expect(service.spec.ports.map((p: Obj) => `${p.port}/${p.protocol}`)).toEqual(['53/UDP', '53/TCP']);
    expect(service.spec.selector).toEqual(byKind('Deployment').spec.template.metadata.labels);
  });

  it('CoreDNS may only list and watch services, endpointslices and namespaces', () => {
    const rules = byKind('ClusterRole').rules as Obj[];
    expect(rules.flatMap((r) => r.resources).sort()).toEqual(['endpointslices', 'namespaces', 'services']);
    for (const rule of rules) expect(rule.verbs).toEqual(['list', 'watch']);
    expect(byKind('ClusterRoleBinding').subjects).toEqual([
      { kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' },
    ]);
  });

  it('the Deployment runs the image pulled from the registry with the Corefile from its ConfigMap, not resolving through itself', () => {
    const pod = byKind('Deployment').spec.template.spec;
    expect(pod.dnsPolicy).toBe('Default');
    expect(pod.serviceAccountName).toBe('coredns');
    expect(pod.containers[0]).toMatchObject({
      image: '10.245.0.1:5000/pilotlight/coredns:test',
      args: ['-conf', '/etc/coredns/Corefile'],
    });
    // Pulled like every image, never expected to have been imported.
    expect(pod.containers[0].imagePullPolicy).toBeUndefined();
    expect(byKind('ConfigMap').data.Corefile).toBe(corefile());
  });

  it('the kubelet hands ClusterFirst pods the kube-dns address and the cluster domain', () => {
    const config = parse(kubeletConfig('/run/containerd.sock', '/pki/ca.crt'));
    expect(config.clusterDNS).toEqual([DNS_SERVICE_IP]);
    expect(config.clusterDomain).toBe(CLUSTER_DOMAIN);
  });
});
