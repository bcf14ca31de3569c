import { describe, expect, it } from 'vitest';
import type { DomainMappingObject } from '../../../lib/apis/domainMapping.ts';
import { parseNetworkConfig } from '../../../lib/config/network.ts';
import { makeDomainMappingCertificate } from '../../../controllers/domainmapping/resources/certificate.ts';
import { makeDomainClaim } from '../../../controllers/domainmapping/resources/domainClaim.ts';
import { makeDomainMappingIngress } from '../../../controllers/domainmapping/resources/ingress.ts';
import { resolveReference, type Addressables } from '../../../controllers/domainmapping/target.ts';
import { refused } from '../../support/configIssues.ts';

const dm = (
  over: { annotations?: Record<string, string>; labels?: Record<string, string>; name?: string } = {},
): DomainMappingObject => ({
  apiVersion: 'serving.knative.dev/v1beta1',
  kind: 'DomainMapping',
  metadata: {
    name: over.name ?? 'app.example.org',
    namespace: 'team',
    uid: 'dm-uid',
    annotations: over.annotations,
    labels: over.labels,
  },
  spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello', namespace: 'team' } },
});

const target = { host: 'hello.team.svc.cluster.local', service: 'hello' };

describe("a DomainMapping's ClusterDomainClaim", () => {
  it("is named after the domain and grants it to the DomainMapping's namespace", () => {
    expect(makeDomainClaim(dm())).toEqual({
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'ClusterDomainClaim',
      metadata: { name: 'app.example.org' },
      spec: { namespace: 'team' },
    });
  });
});

describe("a DomainMapping's KIngress", () => {
  it("serves the domain externally, rewriting the Host to the target's cluster-local host", () => {
    const ingress = makeDomainMappingIngress(dm({ labels: { team: 'a' } }), {
      target,
      ingressClass: 'gw.class',
      httpOption: 'Enabled',
      tls: [],
    });
    expect(ingress.metadata).toEqual({
      name: 'app.example.org',
      namespace: 'team',
      labels: {
        team: 'a',
        'serving.knative.dev/domainMappingUID': 'dm-uid',
        'serving.knative.dev/domainMappingNamespace': 'team',
      },
      annotations: { 'networking.knative.dev/ingress.class': 'gw.class' },
      ownerReferences: [
        {
          apiVersion: 'serving.knative.dev/v1beta1',
          kind: 'DomainMapping',
          name: 'app.example.org',
          uid: 'dm-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    expect(ingress.spec).toEqual({
      httpOption: 'Enabled',
      rules: [
        {
          hosts: ['app.example.org'],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                rewriteHost: 'hello.team.svc.cluster.local',
                splits: [
                  {
                    serviceNamespace: 'team',
                    serviceName: 'hello',
                    servicePort: 80,
                    percent: 100,
                    appendHeaders: { 'K-Original-Host': 'app.example.org' },
                  },
                ],
              },
            ],
          },
        },
      ],
    });
  });

  it("keeps the DomainMapping's annotations, its own ingress class winning, without kubectl's last-applied copy", () => {
    const ingress = makeDomainMappingIngress(
      dm({
        annotations: {
          'networking.knative.dev/ingress.class': 'mine',
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
          'networking.knative.dev/ingressClass': 'mine',
          note: 'x',
        },
      }),
      {
        target,
        ingressClass: 'mine',
        httpOption: '',
        tls: [{ hosts: ['app.example.org'], secretName: 's', secretNamespace: 'team' }],
      },
    );
    expect(ingress.metadata!.annotations).toEqual({ 'networking.knative.dev/ingress.class': 'mine', note: 'x' });
    expect(ingress.spec!.tls).toEqual([{ hosts: ['app.example.org'], secretName: 's', secretNamespace: 'team' }]);
  });

  it("keeps a long domain's KIngress name within 63 characters", () => {
    const name = `${'a'.repeat(60)}.example.org`;
    expect(
      makeDomainMappingIngress(dm({ name }), { target, ingressClass: 'c', httpOption: 'Enabled', tls: [] }).metadata!
        .name,
    ).toHaveLength(63);
  });
});

describe("resolving a DomainMapping's reference", () => {
  const addresses: Record<string, string> = {
    'Service/team/hello': 'http://hello.team.svc.cluster.local',
    'Route/team/hello': 'http://hello.team.svc.cluster.local/',
    'Service/team/pending': '',
    'Service/team/path': 'http://path.team.svc.cluster.local/sub',
    'Service/team/external': 'http://external.team.example.com',
    'Service/other/elsewhere': 'http://elsewhere.other.svc.cluster.local',
  };
  const addressables: Addressables = { addressOf: (kind, ns, name) => addresses[`${kind}/${ns}/${name}`] };
  const ref = (name: string, kind = 'Service', namespace = 'team') => ({
    apiVersion: 'serving.knative.dev/v1',
    kind,
    name,
    namespace,
  });
  const resolve = (r: ReturnType<typeof ref>) => resolveReference(r, 'team', addressables, 'cluster.local');

  it("takes the name and Service of a Knative Service's or Route's cluster-local address", () => {
    expect(resolve(ref('hello'))).toEqual({
      ok: true,
      target: { host: 'hello.team.svc.cluster.local', service: 'hello' },
    });
    expect(resolve(ref('hello', 'Route'))).toEqual({
      ok: true,
      target: { host: 'hello.team.svc.cluster.local', service: 'hello' },
    });
  });

  it("fails with upstream's messages when the referent is missing, has no address or the wrong kind of address", () => {
    expect(resolve(ref('missing'))).toEqual({
      ok: false,
      message: 'failed to get object team/missing: services.serving.knative.dev "missing" not found',
    });
    expect(resolve(ref('pending'))).toEqual({ ok: false, message: 'URL missing in address of Service team/pending' });
    expect(resolve(ref('path'))).toEqual({
      ok: false,
      message: 'resolved URI "http://path.team.svc.cluster.local/sub" contains a path',
    });
    expect(resolve(ref('external'))).toEqual({
      ok: false,
      message:
        'resolved URI "http://external.team.example.com" must be of the form {name}.{namespace}.svc.cluster.local',
    });
    expect(resolve(ref('elsewhere', 'Service', 'other'))).toEqual({
      ok: false,
      message: 'resolved URI "http://elsewhere.other.svc.cluster.local" must be in same namespace as DomainMapping',
    });
    expect(
      resolveReference({ apiVersion: 'v1', kind: 'Pod', name: 'p' }, 'team', addressables, 'cluster.local'),
    ).toMatchObject({ ok: false, message: expect.stringMatching(/Pod.v1 is not a kind a DomainMapping can refer to/) });
  });
});

describe('config-network autocreate-cluster-domain-claims', () => {
  it('is off unless set, as in Knative', () => {
    expect(parseNetworkConfig().autocreateClusterDomainClaims).toBe(false);
    expect(parseNetworkConfig({ 'autocreate-cluster-domain-claims': 'true' }).autocreateClusterDomainClaims).toBe(true);
    expect(refused(parseNetworkConfig, { 'autocreate-cluster-domain-claims': 'yes' })).toMatch(
      /autocreate-cluster-domain-claims: must be true or false/,
    );
  });
});

describe("a DomainMapping's Certificate", () => {
  it('is for its domain alone, named after it (shortened past 63 characters), labelled as upstream', () => {
    expect(makeDomainMappingCertificate(dm({ annotations: { team: 'a' } }), 'cert-class')).toEqual({
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Certificate',
      metadata: {
        name: 'app.example.org',
        namespace: 'team',
        labels: {
          'serving.knative.dev/domainMappingUID': 'app.example.org',
          'networking.knative.dev/certificate-type': 'external-domain',
        },
        annotations: { 'networking.knative.dev/certificate.class': 'cert-class', team: 'a' },
        ownerReferences: [
          {
            apiVersion: 'serving.knative.dev/v1beta1',
            kind: 'DomainMapping',
            name: 'app.example.org',
            uid: 'dm-uid',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { dnsNames: ['app.example.org'], domain: 'app.example.org', secretName: 'app.example.org' },
    });
    const long = `${'a'.repeat(60)}.example.org`;
    const certificate = makeDomainMappingCertificate(dm({ name: long }), 'cert-class');
    expect(certificate.metadata?.name).toHaveLength(63);
    expect(certificate.spec.dnsNames).toEqual([long]);
  });
});
