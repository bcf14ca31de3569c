import type { ConfigIssue } from '../../../lib/config/parse.ts';
import { describe, expect, it } from 'vitest';
import { matchesSelector } from '../../../lib/apis/labelSelector.ts';
import { parseDomainConfig } from '../../../lib/config/domain.ts';
import { parseNetworkConfig } from '../../../lib/config/network.ts';
import { makeWildcardCertificate, wildcardDnsName } from '../../../controllers/nscert/resources/certificate.ts';
import { wildcardDomainsFor } from '../../../controllers/nscert/reconciler.ts';

const namespace = (labels: Record<string, string> = {}) => ({ metadata: { name: 'testns', uid: 'ns-uid', labels } });

describe("a namespace's wildcard Certificate", () => {
  it('is *.<namespace>.<domain>, named and kept in a Secret after the name without *.', () => {
    const dnsName = wildcardDnsName('{{.Name}}.{{.Namespace}}.{{.Domain}}', 'example.com', 'testns');
    expect(dnsName).toBe('*.testns.example.com');
    expect(makeWildcardCertificate(namespace(), dnsName, 'example.com', 'cert-class')).toEqual({
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Certificate',
      metadata: {
        name: 'testns.example.com',
        namespace: 'testns',
        labels: { 'networking.knative.dev/wildcardDomain': 'example.com' },
        annotations: { 'networking.knative.dev/certificate.class': 'cert-class' },
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Namespace',
            name: 'testns',
            uid: 'ns-uid',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { dnsNames: ['*.testns.example.com'], secretName: 'testns.example.com' },
    });
  });

  it('cannot be made under a domain-template that does not start with the name', () => {
    expect(() => wildcardDnsName('{{.Namespace}}-{{.Name}}.{{.Domain}}', 'example.com', 'testns')).toThrow(
      /does not start with "\*\."/,
    );
  });

  it('is wanted for each wildcard domain, in the namespaces the selector picks only', () => {
    const domains = parseDomainConfig({
      'example.com': '',
      'internal.example.com': 'selector: {app: internal}',
      'wild.example.org': 'selector: {app: wild}\ntype: wildcard',
    });
    const selecting = parseNetworkConfig({ 'namespace-wildcard-cert-selector': 'matchLabels: {wildcards: "on"}' });
    expect(wildcardDomainsFor(namespace({ wildcards: 'on' }), selecting, domains)).toEqual(
      new Set(['example.com', 'wild.example.org']),
    );
    expect(wildcardDomainsFor(namespace(), selecting, domains)).toEqual(new Set());
    // Unset, as upstream's default: no namespace at all.
    expect(wildcardDomainsFor(namespace({ wildcards: 'on' }), parseNetworkConfig(), domains)).toEqual(new Set());
  });

  it('is wanted for svc.cluster.local too when config-domain has no default domain, as upstream adds it', () => {
    const selecting = parseNetworkConfig({ 'namespace-wildcard-cert-selector': 'matchLabels: {wildcards: "on"}' });
    const onlySelected = parseDomainConfig({ 'internal.example.com': 'selector: {app: internal}' });
    expect(wildcardDomainsFor(namespace({ wildcards: 'on' }), selecting, onlySelected)).toEqual(
      new Set(['svc.cluster.local']),
    );
    expect(wildcardDomainsFor(namespace({ wildcards: 'on' }), selecting, parseDomainConfig({}))).toEqual(
      new Set(['svc.cluster.local']),
    );
    expect(wildcardDnsName('{{.Name}}.{{.Namespace}}.{{.Domain}}', 'svc.cluster.local', 'testns')).toBe(
      '*.testns.svc.cluster.local',
    );
  });
});

describe('namespace-wildcard-cert-selector', () => {
  it('is a LabelSelector in YAML or JSON; a bad one names the key and the rule', () => {
    const selector = parseNetworkConfig({
      'namespace-wildcard-cert-selector':
        '{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system"]}]}',
    }).namespaceWildcardCertSelector!;
    expect(matchesSelector(selector, { 'kubernetes.io/metadata.name': 'team-a' })).toBe(true);
    expect(matchesSelector(selector, { 'kubernetes.io/metadata.name': 'kube-system' })).toBe(false);
    const issues: ConfigIssue[] = [];
    const report = (issue: ConfigIssue) => issues.push(issue);
    const bad = ['matchExpressions: [{key: a, operator: Equals}]', 'matchLabel: {a: b}'];
    for (const value of bad)
      expect(
        parseNetworkConfig({ 'namespace-wildcard-cert-selector': value }, report).namespaceWildcardCertSelector,
      ).toBeUndefined();
    expect(issues.map((issue) => issue.key)).toEqual([
      'namespace-wildcard-cert-selector',
      'namespace-wildcard-cert-selector',
    ]);
    expect(issues[0]!.message).toMatch(/must be In, NotIn, Exists or DoesNotExist/);
  });

  it('matches as Kubernetes does: labels and expressions all hold, empty matches everything', () => {
    expect(matchesSelector({}, {})).toBe(true);
    const selector = {
      matchLabels: { team: 'a' },
      matchExpressions: [
        { key: 'tier', operator: 'In' as const, values: ['web', 'api'] },
        { key: 'legacy', operator: 'DoesNotExist' as const },
      ],
    };
    expect(matchesSelector(selector, { team: 'a', tier: 'api' })).toBe(true);
    expect(matchesSelector(selector, { team: 'a', tier: 'db' })).toBe(false);
    expect(matchesSelector(selector, { team: 'a', tier: 'web', legacy: '' })).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'x', operator: 'Exists' }] }, { x: '' })).toBe(true);
  });
});
