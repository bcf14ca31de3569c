import type { ConfigIssue } from '../../../lib/config/parse.ts';
import { describe, expect, it } from 'vitest';
import type { Certificate } from '../../../lib/apis/networking.ts';
import type { Route } from '../../../lib/apis/serving.ts';
import { parseDomainConfig } from '../../../lib/config/domain.ts';
import { parseFeatures } from '../../../lib/config/features.ts';
import { parseNetworkConfig } from '../../../lib/config/network.ts';
import {
  adler32,
  certificateClassOf,
  certificateName,
  makeClusterLocalCertificate,
  makeExternalCertificates,
} from '../../../controllers/route/resources/certificate.ts';
import { makeIngress, annotatedHttpOption } from '../../../controllers/route/resources/ingress.ts';
import { groupTargets } from '../../../controllers/route/traffic.ts';
import {
  certificateState,
  externalDomainTlsEnabled,
  matchingWildcardCertificate,
  planTls,
  withScheme,
  type CertificateOutcome,
} from '../../../controllers/route/tls.ts';

const route = (annotations: Record<string, string> = {}, labels: Record<string, string> = {}): Route =>
  ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Route',
    metadata: { name: 'hello', namespace: 'ns', uid: '12345', annotations, labels },
    spec: {},
  }) as unknown as Route;

const OWNER = {
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Route',
  name: 'hello',
  uid: '12345',
  controller: true,
  blockOwnerDeletion: true,
};

/** A Certificate as its class left it: Ready True/False/absent for its current generation. */
function certificate(name: string, dnsNames: string[], ready?: 'True' | 'False', reason = 'Issuing'): Certificate {
  return {
    metadata: { name, namespace: 'ns', generation: 1 },
    spec: { dnsNames, secretName: name },
    status: ready ? { observedGeneration: 1, conditions: [{ type: 'Ready', status: ready, reason }] } : {},
  };
}

describe("a Route's Certificates", () => {
  it('are named route-<uid>, a tag adding its Adler-32 as upstream', () => {
    expect(adler32('Wikipedia')).toBe(0x11e60398);
    expect(certificateName(route(), '')).toBe('route-12345');
    // Upstream's own test names for tags "current" and "test".
    expect(certificateName(route(), 'current')).toBe('route-12345-200999684');
    expect(certificateName(route(), 'test')).toBe('route-12345-73204161');
  });

  it('one per external host, sorted by host, with the class, the route label and the type', () => {
    const hosts = new Map([
      ['hello.ns.example.com', ''],
      ['current-hello.ns.example.com', 'current'],
    ]);
    const certs = makeExternalCertificates(
      route({ 'kubectl.kubernetes.io/last-applied-configuration': '{}', team: 'a' }),
      hosts,
      'cert-class',
      'example.com',
    );
    expect(certs).toEqual([
      {
        apiVersion: 'networking.internal.knative.dev/v1alpha1',
        kind: 'Certificate',
        metadata: {
          name: 'route-12345-200999684',
          namespace: 'ns',
          labels: {
            'serving.knative.dev/route': 'hello',
            'networking.knative.dev/certificate-type': 'external-domain',
          },
          annotations: { 'networking.knative.dev/certificate.class': 'cert-class', team: 'a' },
          ownerReferences: [OWNER],
        },
        spec: {
          dnsNames: ['current-hello.ns.example.com'],
          domain: 'example.com',
          secretName: 'route-12345-200999684',
        },
      },
      expect.objectContaining({
        metadata: expect.objectContaining({ name: 'route-12345' }),
        spec: { dnsNames: ['hello.ns.example.com'], domain: 'example.com', secretName: 'route-12345' },
      }),
    ]);
  });

  it('a cluster-local one per target name, named -local, for its three hosts under svc.cluster.local', () => {
    const cert = makeClusterLocalCertificate(
      route(),
      'test',
      ['hello.ns.svc.cluster.local', 'hello.ns', 'hello.ns.svc'],
      'cert-class',
    );
    expect(cert.metadata?.name).toBe('route-12345-73204161-local');
    expect(cert.metadata?.labels?.['networking.knative.dev/certificate-type']).toBe('cluster-local-domain');
    expect(cert.spec).toEqual({
      dnsNames: ['hello.ns', 'hello.ns.svc', 'hello.ns.svc.cluster.local'],
      domain: 'svc.cluster.local',
      secretName: 'route-12345-73204161-local',
    });
  });

  it("take the Route's certificate class annotation (either spelling) over config-network's", () => {
    expect(certificateClassOf(route(), 'default-class')).toBe('default-class');
    expect(certificateClassOf(route({ 'networking.knative.dev/certificate-class': 'alt' }), 'd')).toBe('alt');
    expect(
      certificateClassOf(
        route({
          'networking.knative.dev/certificate.class': 'main',
          'networking.knative.dev/certificate-class': 'alt',
        }),
        'd',
      ),
    ).toBe('main');
    // The alternative spelling is not copied onto the Certificate; the class it names is.
    const [cert] = makeExternalCertificates(
      route({ 'networking.knative.dev/certificate-class': 'alt' }),
      new Map([['hello.ns.example.com', '']]),
      'alt',
      'example.com',
    );
    expect(cert!.metadata?.annotations).toEqual({ 'networking.knative.dev/certificate.class': 'alt' });
  });
});

describe('external-domain-tls for a Route', () => {
  const on = parseNetworkConfig({ 'external-domain-tls': 'Enabled' });

  it("is config-network's external-domain-tls (Enabled/Disabled, any case), off by default", () => {
    expect(parseNetworkConfig().externalDomainTls).toBe(false);
    expect(parseNetworkConfig({ 'external-domain-tls': 'enabled' }).externalDomainTls).toBe(true);
    expect(parseNetworkConfig({ 'cluster-local-domain-tls': 'Enabled' }).clusterLocalDomainTls).toBe(true);
    const issues: ConfigIssue[] = [];
    expect(parseNetworkConfig({ 'external-domain-tls': 'yes' }, (issue) => issues.push(issue)).externalDomainTls).toBe(
      false,
    );
    expect(issues).toEqual([{ key: 'external-domain-tls', message: 'must be Enabled or Disabled' }]);
    expect(externalDomainTlsEnabled({}, parseNetworkConfig())).toBe(false);
    expect(externalDomainTlsEnabled(undefined, on)).toBe(true);
  });

  it('is turned off by the disable annotation, the older keys taking precedence as upstream', () => {
    expect(externalDomainTlsEnabled({ 'networking.knative.dev/disable-external-domain-tls': 'true' }, on)).toBe(false);
    expect(externalDomainTlsEnabled({ 'networking.knative.dev/disable-external-domain-tls': 'False' }, on)).toBe(true);
    expect(
      externalDomainTlsEnabled(
        {
          'networking.knative.dev/disableAutoTLS': 'false',
          'networking.knative.dev/disable-external-domain-tls': 'true',
        },
        on,
      ),
    ).toBe(true);
    // Not a boolean: left on, as upstream.
    expect(externalDomainTlsEnabled({ 'networking.knative.dev/disable-auto-tls': 'maybe' }, on)).toBe(true);
  });
});

describe('planning TLS from the Certificates', () => {
  const external = (cert: Certificate): CertificateOutcome => ({
    kind: 'external',
    certificate: cert,
    hosts: cert.spec.dnsNames,
  });
  const host = 'hello.ns.example.com';

  it('a ready Certificate serves its hosts over TLS from its Secret and makes their URLs https', () => {
    const plan = planTls([external(certificate('route-12345', [host], 'True'))], {
      externalEnabled: true,
      httpProtocol: 'Enabled',
    });
    expect(plan.tls).toEqual([{ hosts: [host], secretName: 'route-12345', secretNamespace: 'ns' }]);
    expect(plan.schemes).toEqual(new Map([[host, 'https']]));
    expect(plan.condition).toEqual({ status: 'True' });
    expect(plan.httpsAddress).toBe(false);
  });

  it('one not ready yet keeps http under http-protocol Enabled (HTTPDowngrade), and serves no TLS', () => {
    const plan = planTls([external(certificate('route-12345', [host]))], {
      externalEnabled: true,
      httpProtocol: 'Enabled',
    });
    expect(plan.tls).toEqual([]);
    expect(plan.schemes.get(host)).toBe('http');
    expect(plan.condition).toEqual({
      status: 'True',
      reason: 'HTTPDowngrade',
      message: 'Certificate route-12345 is not ready downgrade HTTP.',
    });
  });

  it('under Redirected, one not ready leaves the Route waiting (CertificateNotReady) with https URLs', () => {
    const plan = planTls([external(certificate('route-12345', [host], undefined))], {
      externalEnabled: true,
      httpProtocol: 'Redirected',
    });
    expect(plan.schemes.get(host)).toBe('https');
    expect(plan.condition).toEqual({
      status: 'Unknown',
      reason: 'CertificateNotReady',
      message: 'Certificate route-12345 is not ready: ',
    });
  });

  it("a failed one fails the condition with the Certificate's reason; the worst Certificate speaks", () => {
    const plan = planTls(
      [
        external(certificate('route-12345-1', ['a.ns.example.com'], 'True')),
        external(certificate('route-12345', [host], 'False', 'IssuerNotFound')),
        external(certificate('route-12345-2', ['b.ns.example.com'])),
      ],
      { externalEnabled: true, httpProtocol: 'Redirected' },
    );
    expect(plan.tls.map((t) => t.secretName)).toEqual(['route-12345-1']);
    expect(plan.condition).toEqual({
      status: 'False',
      reason: 'CertificateProvisionFailed',
      message: 'Certificate route-12345 fails to be provisioned: IssuerNotFound',
    });
    const notOwned = planTls([{ kind: 'notOwned', name: 'route-12345' }], {
      externalEnabled: true,
      httpProtocol: 'Enabled',
    });
    expect(notOwned.condition).toEqual({
      status: 'False',
      reason: 'CertificateNotOwned',
      message: "There is an existing certificate route-12345 that we don't own.",
    });
  });

  it('a Certificate of an older generation is not ready', () => {
    const stale = certificate('route-12345', [host], 'True');
    stale.metadata!.generation = 2;
    expect(certificateState(stale)).toBe('notReady');
    expect(certificateState(certificate('x', [host], 'False'))).toBe('failed');
  });

  it('a ready cluster-local Certificate makes the address https; one not ready changes no scheme', () => {
    const local = ['hello.ns', 'hello.ns.svc', 'hello.ns.svc.cluster.local'];
    const ready = planTls(
      [{ kind: 'clusterLocal', certificate: certificate('route-12345-local', local, 'True'), hosts: local }],
      { externalEnabled: false, httpProtocol: 'Enabled' },
    );
    expect(ready.httpsAddress).toBe(true);
    expect(ready.schemes.get('hello.ns.svc.cluster.local')).toBe('https');
    expect(ready.tls).toEqual([{ hosts: local, secretName: 'route-12345-local', secretNamespace: 'ns' }]);
    const pending = planTls(
      [{ kind: 'clusterLocal', certificate: certificate('route-12345-local', local), hosts: local }],
      { externalEnabled: false, httpProtocol: 'Enabled' },
    );
    expect(pending.schemes.size).toBe(0);
    expect(pending.condition.reason).toBe('CertificateNotReady');
  });

  it('without Certificates says which TLS is not enabled', () => {
    expect(planTls([], { externalEnabled: false, httpProtocol: 'Enabled' }).condition).toEqual({
      status: 'True',
      reason: 'TLSNotEnabled',
      message: 'external-domain-tls is not enabled',
    });
    // external-domain-tls on, but a cluster-local route has no external host.
    expect(planTls([], { externalEnabled: true, httpProtocol: 'Enabled' }).condition.message).toBe(
      'TLS is not enabled for cluster-local',
    );
  });

  it('rewrites only the scheme of URLs whose host the plan names', () => {
    const schemes = new Map<string, 'http' | 'https'>([[host, 'https']]);
    expect(withScheme(`http://${host}`, schemes)).toBe(`https://${host}`);
    expect(withScheme('http://other.ns.example.com', schemes)).toBe('http://other.ns.example.com');
  });
});

describe("a namespace's wildcard Certificate", () => {
  const wildcard = (domain: string, names: string[]): Certificate => ({
    metadata: { name: 'ns-wildcard', namespace: 'ns', labels: { 'networking.knative.dev/wildcardDomain': domain } },
    spec: { dnsNames: names, secretName: 'ns-wildcard' },
  });

  it('covers hosts one label below its names, when labelled with the route domain', () => {
    const certs = [wildcard('example.com', ['*.ns.example.com'])];
    expect(matchingWildcardCertificate(['hello.ns.example.com'], certs, 'example.com')).toBe(certs[0]);
    expect(matchingWildcardCertificate(['a.b.ns.example.com'], certs, 'example.com')).toBeUndefined();
    expect(matchingWildcardCertificate(['hello.ns.example.com'], certs, 'example.org')).toBeUndefined();
  });
});

describe("the Route's KIngress under TLS", () => {
  const targets = groupTargets([
    { revisionName: 'hello-00001', percent: 100, latestRevision: true, protocol: 'http1' },
  ]);
  const config = {
    network: parseNetworkConfig({ 'http-protocol': 'Redirected' }),
    domains: parseDomainConfig({ 'example.com': '' }),
    features: parseFeatures({}),
  };

  it('lists the tls entries it is given, and takes http-protocol from the annotation over config-network', () => {
    const tls = [{ hosts: ['hello.ns.example.com'], secretName: 'route-12345', secretNamespace: 'ns' }];
    const ingress = makeIngress(route(), targets, config, undefined, tls);
    expect(ingress.spec?.tls).toEqual(tls);
    expect(ingress.spec?.httpOption).toBe('Redirected');
    expect(makeIngress(route(), targets, config).spec).not.toHaveProperty('tls');
    expect(annotatedHttpOption({ 'networking.knative.dev/http-protocol': 'enabled' }, config.network)).toBe('Enabled');
    expect(
      annotatedHttpOption(
        { 'networking.knative.dev/httpOption': 'Redirected', 'networking.knative.dev/http-protocol': 'Enabled' },
        parseNetworkConfig(),
      ),
    ).toBe('Redirected');
    expect(() => annotatedHttpOption({ 'networking.knative.dev/http-protocol': 'Disabled' }, config.network)).toThrow(
      /networking.knative.dev\/http-protocol: "Disabled" must be Enabled or Redirected/,
    );
  });
});
