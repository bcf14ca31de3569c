// Cluster DNS for the local node the way kubeadm installs it: CoreDNS in kube-system behind the
// Service kube-dns at a fixed ClusterIP, which the kubelet writes into every pod's resolv.conf.
// It answers only for the cluster's own zones; nothing is forwarded, so no query leaves the
// machine (names outside the cluster are REFUSED).
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeOciImage } from '../images/oci.ts';
import { kubectl, type Kubectl } from './operator.ts';
import { cacheRoot } from './paths.ts';

export const CLUSTER_DOMAIN = 'cluster.local';
/** The tenth address of SERVICE_CIDR, as kubeadm picks it. */
export const DNS_SERVICE_IP = '10.96.0.10';
const NAMESPACE = 'kube-system';
const NAME = 'coredns';

export interface CorefileOptions {
  /** 53 in the pod; a free loopback port when a test runs CoreDNS on the host. */
  port?: number;
  healthPort?: number;
  readyPort?: number;
  /** Out of the cluster (tests): the kubeconfig CoreDNS watches the API server with. */
  kubeconfig?: string;
}

/**
 * Only the cluster's zones have a server block, so a query for any other name finds no zone and
 * is REFUSED at once: there is no `forward` (which would send it to the host's resolvers and from
 * there to the internet) and so no `loop` either, which only guards forwarding.
 * Answers keep the plugin's default TTL of 5 s, which also bounds how long a "no such name" is
 * cached: kubeadm's `ttl 30` would hide a Service created just after a failed lookup for 30 s,
 * and on this cluster tests create Services and resolve them at once.
 */
export function corefile({ port = 53, healthPort = 8080, readyPort = 8181, kubeconfig }: CorefileOptions = {}): string {
  const zones = [CLUSTER_DOMAIN, 'in-addr.arpa', 'ip6.arpa'];
  return `${zones.map((zone) => `${zone}:${port}`).join(' ')} {
    errors
    health :${healthPort}
    ready :${readyPort}
    kubernetes ${zones.join(' ')} {
        pods insecure${kubeconfig ? `\n        kubeconfig ${kubeconfig}` : ''}
    }
    cache 30
    loadbalance
}
`;
}

/** The ServiceAccount, its cluster role, the Corefile, the Deployment and the kube-dns Service. */
export function dnsManifests(image: string): object[] {
  const labels = { 'k8s-app': 'kube-dns' };
  const metadata = { name: NAME, namespace: NAMESPACE, labels };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `system:${NAME}`, labels },
      rules: [
        { apiGroups: [''], resources: ['services', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        // `pods insecure` answers pod A records from the name alone; it needs no pod reads.
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `system:${NAME}`, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `system:${NAME}` },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: NAMESPACE }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: { Corefile: corefile() } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata,
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: NAME,
            priorityClassName: 'system-cluster-critical',
            // Not ClusterFirst: CoreDNS must not send its own lookups to itself.
            dnsPolicy: 'Default',
            containers: [
              {
                name: NAME,
                image,
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                // The image is one static binary with no file capabilities, so it binds port 53 as
                // root holding only NET_BIND_SERVICE (upstream's image uses setcap for a non-root user).
                securityContext: {
                  runAsUser: 0,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
                },
                resources: { requests: { cpu: '50m', memory: '40Mi' }, limits: { memory: '170Mi' } },
                livenessProbe: {
                  httpGet: { path: '/health', port: 8080 },
                  initialDelaySeconds: 10,
                  periodSeconds: 10,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 1 },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: NAME } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: NAMESPACE, labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: labels,
        clusterIP: DNS_SERVICE_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    },
  ];
}

/**
 * The CoreDNS image: the static binary alone, cached per build, named for registry. Its tag is
 * the binary's cache folder (CoreDNS and Go versions, platform), so a rebuilt binary is a new image.
 */
export async function coreDnsImage(binary: string, registry: string): Promise<{ name: string; archive: string }> {
  const build = basename(dirname(binary));
  const name = `${registry}/pilotlight/coredns:${build.replace(/^coredns-/, '')}`;
  const dir = join(cacheRoot, 'images');
  const archive = join(dir, `${build}.tar`);
  if (existsSync(archive)) return { name, archive };
  const root = join(dir, `${build}-root`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  copyFileSync(binary, join(root, 'coredns'));
  await writeOciImage({ name, layers: [root], config: { entrypoint: ['/coredns'] } }, `${archive}.tmp`);
  renameSync(`${archive}.tmp`, archive);
  rmSync(root, { recursive: true, force: true });
  return { name, archive };
}

/** Applies the manifests; `waitForClusterDns` then holds until CoreDNS answers (is Ready). */
export async function applyClusterDns(k: Kubectl, image: string): Promise<void> {
  await kubectl(
    k,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: dnsManifests(image) }),
  );
}

export async function waitForClusterDns(k: Kubectl): Promise<void> {
  await kubectl(k, ['rollout', 'status', '-n', NAMESPACE, `deployment/${NAME}`, '--timeout=120s']);
}
