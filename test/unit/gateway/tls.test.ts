import type { SecureContext } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { buildRoutingTable, type Ingress } from '../../../gateway/routing/table.ts';
import {
  buildTlsTable,
  certificateProblem,
  contextFor,
  httpsRedirectLocation,
  loadCertificate,
  type LoadedCertificate,
  type TlsSecretData,
  type TlsSecrets,
} from '../../../gateway/tls.ts';
import { createCertificateAuthority } from '../../../lib/pki.ts';
import { routeIngress, serving } from '../../../harness/kingress.ts';

const HOST = 'hello.default.example.com';
const LOCAL = 'hello.default.svc.cluster.local';

type Spec = NonNullable<Ingress['spec']>;

/** The Route's KIngress for `name`, with tls entries and an httpOption. */
function tlsIngress(
  name: string,
  tls: Spec['tls'],
  httpOption?: 'Enabled' | 'Redirected',
  creationTimestamp?: string,
): Ingress {
  const ingress = routeIngress({
    name,
    targets: { '': [{ revision: `${name}-1`, percent: 100 }] },
    ...(creationTimestamp ? { creationTimestamp } : {}),
  });
  return { ...ingress, spec: { ...ingress.spec, tls, ...(httpOption ? { httpOption } : {}) } };
}

const pem = (id: string): TlsSecretData => ({ certificate: `cert ${id}`, privateKey: `key ${id}` });

/** A day either side of NOW: what a fake certificate is valid for unless it says otherwise. */
const NOW = Date.parse('2026-01-02T00:00:00Z');
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Stands in for loadCertificate: a context per call, recording what it was built from. A fake
 * certificate names every host unless its text says `names <host>`, and is valid around NOW
 * unless it says `expired`.
 */
function fakeContexts() {
  const built: string[] = [];
  const load = (certificate: string, privateKey: string): LoadedCertificate => {
    if (certificate.startsWith('bad')) throw new Error('PEM routines::no start line');
    built.push(certificate);
    const named = /names (\S+)/.exec(certificate)?.[1];
    const notAfter = certificate.includes('expired') ? NOW - DAY_MS : NOW + DAY_MS;
    return {
      context: { context: `${certificate}|${privateKey}` } as unknown as SecureContext,
      facts: {
        covers: (host) => named === undefined || host === named,
        notBefore: new Date(NOW - 2 * DAY_MS),
        notAfter: new Date(notAfter),
      },
    };
  };
  return { built, load };
}

function build(ingresses: Ingress[], secrets: TlsSecrets, options: Parameters<typeof buildTlsTable>[3] = {}) {
  const backends = new Map(ingresses.flatMap((i) => [...serving([`${i.metadata!.name}-1`])]));
  return buildTlsTable(ingresses, secrets, buildRoutingTable(ingresses, backends), { now: NOW, ...options });
}

describe('buildTlsTable', () => {
  it('gives each tls host the context of its Secret on the listener of its visibility', () => {
    const { load } = fakeContexts();
    const hello = tlsIngress('hello', [{ hosts: [HOST, LOCAL], secretName: 'hello-tls', secretNamespace: 'default' }]);
    const other = tlsIngress('other', [
      { hosts: ['other.default.example.com'], secretName: 'other-tls', secretNamespace: 'certs' },
    ]);
    const secrets = new Map([
      ['default/hello-tls', pem('a')],
      ['certs/other-tls', pem('b')],
    ]);
    const table = build([hello, other], secrets, { load });
    expect(table.contexts.external.get(HOST)).toEqual({ context: 'cert a|key a' });
    expect(table.contexts.external.get('other.default.example.com')).toEqual({ context: 'cert b|key b' });
    expect(table.contexts.external.has(LOCAL)).toBe(false);
    // ClusterLocal hosts are served on the internal TLS listener, and public ones only outside.
    expect(table.contexts.internal.get(LOCAL)).toEqual({ context: 'cert a|key a' });
    expect(table.contexts.internal.has(HOST)).toBe(false);
    expect(table.redirects.size).toBe(0);
  });

  it('normalizes tls hosts as the routing table does', () => {
    const { load } = fakeContexts();
    const hello = tlsIngress('hello', [
      { hosts: ['Hello.Default.Example.com.'], secretName: 's', secretNamespace: 'default' },
    ]);
    const table = build([hello], new Map([['default/s', pem('a')]]), { load });
    expect([...table.contexts.external.keys()]).toEqual([HOST]);
  });

  it('puts no certificate on a host that another Ingress serves', () => {
    const { load } = fakeContexts();
    const first = tlsIngress('first', [], undefined, '2024-01-01T00:00:00Z');
    const second = tlsIngress('second', [], undefined, '2024-01-02T00:00:00Z');
    // Both claim `first`'s host; only the Ingress that serves it may put a certificate on it.
    const firstHost = 'first.default.example.com';
    second.spec!.rules!.push({ hosts: [firstHost], visibility: 'ExternalIP', http: second.spec!.rules![1]!.http! });
    second.spec!.tls = [{ hosts: [firstHost], secretName: 'second-tls', secretNamespace: 'default' }];
    const table = build([first, second], new Map([['default/second-tls', pem('b')]]), { load });
    expect(table.contexts.external.has(firstHost)).toBe(false);
  });

  it('builds a context once per Secret content and a new one when the content changes', () => {
    const { built, load } = fakeContexts();
    const hello = tlsIngress('hello', [{ hosts: [HOST], secretName: 's', secretNamespace: 'default' }]);
    const first = build([hello], new Map([['default/s', pem('a')]]), { load });
    const same = build([hello], new Map([['default/s', pem('a')]]), { load, previous: first });
    expect(same.contexts.external.get(HOST)).toBe(first.contexts.external.get(HOST));
    const rotated = build([hello], new Map([['default/s', pem('b')]]), { load, previous: same });
    expect(rotated.contexts.external.get(HOST)).toEqual({ context: 'cert b|key b' });
    expect(built).toEqual(['cert a', 'cert b']);
  });

  it('leaves the hosts of a missing or malformed Secret without TLS, says why, and serves the others', () => {
    const { load } = fakeContexts();
    const ingresses = ['a', 'b', 'c', 'd'].map((name) =>
      tlsIngress(name, [
        { hosts: [`${name}.default.example.com`], secretName: `${name}-tls`, secretNamespace: 'default' },
      ]),
    );
    const secrets = new Map<string, TlsSecretData>([
      ['default/a-tls', pem('a')],
      ['default/b-tls', { privateKey: 'key' }],
      ['default/c-tls', { certificate: 'bad cert', privateKey: 'key' }],
    ]);
    const table = build(ingresses, secrets, { load });
    expect([...table.contexts.external.keys()]).toEqual(['a.default.example.com']);
    const reasons = Object.fromEntries(
      [...table.secrets].map(([key, state]) => [key, state.kind === 'failed' ? state.reason : 'loaded']),
    );
    expect(reasons).toEqual({
      'default/a-tls': 'loaded',
      'default/b-tls': 'Secret default/b-tls has no tls.crt',
      'default/c-tls': 'Secret default/c-tls does not load: PEM routines::no start line',
      'default/d-tls': 'Secret default/d-tls not found (or not of type kubernetes.io/tls)',
    });
  });

  it('keeps a failed state while the Secret is unchanged, so the failure is reported once', () => {
    const { load } = fakeContexts();
    const hello = tlsIngress('hello', [{ hosts: [HOST], secretName: 's', secretNamespace: 'default' }]);
    const first = build([hello], new Map(), { load });
    const again = build([hello], new Map(), { load, previous: first });
    expect(again.secrets.get('default/s')).toBe(first.secrets.get('default/s'));
  });

  it('loads a real certificate with node and rejects a key that does not match it', async () => {
    const ca = await createCertificateAuthority('test CA', 1);
    const [leaf, other] = await Promise.all([
      ca.issue({ commonName: HOST, dnsNames: [HOST], usage: 'server', validDays: 1 }),
      ca.issue({ commonName: HOST, dnsNames: [HOST], usage: 'server', validDays: 1 }),
    ]);
    const hello = tlsIngress('hello', [{ hosts: [HOST], secretName: 's', secretNamespace: 'default' }]);
    const good = build(
      [hello],
      new Map([['default/s', { certificate: leaf.certificate, privateKey: leaf.privateKey }]]),
    );
    expect(good.secrets.get('default/s')?.kind).toBe('loaded');
    const mismatched = build(
      [hello],
      new Map([['default/s', { certificate: leaf.certificate, privateKey: other.privateKey }]]),
    );
    const state = mismatched.secrets.get('default/s');
    expect(state?.kind === 'failed' && state.reason).toMatch(/^Secret default\/s does not load: .*key values mismatch/);
  });

  it('gives no TLS to a host its certificate does not name or that is not valid now, says which, and serves the others', () => {
    const { load } = fakeContexts();
    const ingresses = ['a', 'b', 'c'].map((name) =>
      tlsIngress(name, [
        { hosts: [`${name}.default.example.com`], secretName: `${name}-tls`, secretNamespace: 'default' },
      ]),
    );
    const secrets = new Map<string, TlsSecretData>([
      ['default/a-tls', pem('a')],
      ['default/b-tls', pem('b names elsewhere.example.com')],
      ['default/c-tls', pem('c expired')],
    ]);
    const table = build(ingresses, secrets, { load });
    expect([...table.contexts.external.keys()]).toEqual(['a.default.example.com']);
    expect([...table.secrets.values()].map((state) => state.kind)).toEqual(['loaded', 'loaded', 'loaded']);
    expect(Object.fromEntries(table.problems)).toEqual({
      'default/b-tls b.default.example.com':
        'host b.default.example.com: the certificate of Secret default/b-tls does not name it',
      'default/c-tls c.default.example.com': `host c.default.example.com: the certificate of Secret default/c-tls expired at ${new Date(NOW - DAY_MS).toISOString()}`,
    });
  });

  it('says a certificate is not valid yet before its notBefore', () => {
    const facts = { covers: () => true, notBefore: new Date(NOW + 1000), notAfter: new Date(NOW + DAY_MS) };
    expect(certificateProblem(facts, HOST, NOW)).toBe(`is not valid before ${new Date(NOW + 1000).toISOString()}`);
    expect(certificateProblem(facts, HOST, NOW + 1000)).toBeUndefined();
  });

  it("reads a real certificate's names, wildcards included, and its validity", async () => {
    const ca = await createCertificateAuthority('test CA', 1);
    const pair = await ca.issue({ commonName: 'wildcard', dnsNames: ['*.default.example.com'], usage: 'server' });
    const { facts } = loadCertificate(pair.certificate, pair.privateKey);
    expect(facts.covers(HOST)).toBe(true);
    expect(facts.covers('a.b.default.example.com')).toBe(false);
    expect(facts.covers('hello.other.example.com')).toBe(false);
    expect(facts.notAfter.getTime()).toBeGreaterThan(facts.notBefore.getTime());
  });

  it('redirects the ExternalIP hosts of a Redirected Ingress only', () => {
    const redirected = tlsIngress('hello', [], 'Redirected');
    const enabled = tlsIngress('other', [], 'Enabled');
    const table = build([redirected, enabled], new Map());
    expect([...table.redirects]).toEqual([HOST]);
  });
});

describe('httpsRedirectLocation', () => {
  const table = build([tlsIngress('hello', [], 'Redirected')], new Map());

  it('sends a redirected host to https on the default port, path and query kept', () => {
    expect(httpsRedirectLocation(table, `${HOST}:31080`, '/path?q=1')).toBe(`https://${HOST}/path?q=1`);
    expect(httpsRedirectLocation(table, 'HELLO.default.example.com', '/')).toBe(`https://${HOST}/`);
  });

  it('serves every other host and a request without a host', () => {
    expect(httpsRedirectLocation(table, 'other.default.example.com', '/')).toBeUndefined();
    expect(httpsRedirectLocation(table, LOCAL, '/')).toBeUndefined();
    expect(httpsRedirectLocation(table, undefined, '/')).toBeUndefined();
  });
});

describe('contextFor with a default certificate', () => {
  const { load } = fakeContexts();
  const own = tlsIngress('own', [
    { hosts: ['own.default.example.com'], secretName: 'own-tls', secretNamespace: 'default' },
  ]);
  const plain = tlsIngress('hello', []);
  const secrets = new Map([
    ['default/own-tls', pem('own')],
    ['system/wildcard', pem('names hello.default.example.com')],
  ]);
  const table = build([own, plain], secrets, { load, defaultCertificate: 'system/wildcard' });

  it('serves a public host without a spec.tls entry with the default certificate when it names the host', () => {
    expect(contextFor(table, 'external', 'Hello.Default.Example.com', NOW)).toEqual({
      context: 'cert names hello.default.example.com|key names hello.default.example.com',
    });
  });

  it("keeps a host's own certificate first, and gives none to a host the default does not name", () => {
    expect(contextFor(table, 'external', 'own.default.example.com', NOW)).toEqual({ context: 'cert own|key own' });
    expect(contextFor(table, 'external', 'other.default.example.com', NOW)).toBeUndefined();
  });

  it('gives nothing on the internal listener, nor once the default has expired', () => {
    expect(contextFor(table, 'internal', HOST, NOW)).toBeUndefined();
    expect(contextFor(table, 'external', HOST, NOW + 2 * DAY_MS)).toBeUndefined();
  });

  it('has no default while its Secret is missing, and says why', () => {
    const missing = build([plain], new Map(), { load, defaultCertificate: 'system/wildcard' });
    expect(missing.fallback).toBeUndefined();
    expect(contextFor(missing, 'external', HOST, NOW)).toBeUndefined();
    expect(missing.secrets.get('system/wildcard')).toMatchObject({ kind: 'failed' });
  });
});
