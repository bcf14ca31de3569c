import type { SecureContext } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { buildRoutingTable, type Ingress } from '../../../gateway/routing/table.ts';
import { buildTlsTable, httpsRedirectLocation, type TlsSecretData, type TlsSecrets } from '../../../gateway/tls.ts';
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

/** Stands in for node's createSecureContext: a context per call, recording what it was built from. */
function fakeContexts() {
  const built: string[] = [];
  const createContext = (certificate: string, privateKey: string): SecureContext => {
    if (certificate.startsWith('bad')) throw new Error('PEM routines::no start line');
    built.push(certificate);
    return { context: `${certificate}|${privateKey}` } as unknown as SecureContext;
  };
  return { built, createContext };
}

function build(ingresses: Ingress[], secrets: TlsSecrets, options: Parameters<typeof buildTlsTable>[3] = {}) {
  const backends = new Map(ingresses.flatMap((i) => [...serving([`${i.metadata!.name}-1`])]));
  return buildTlsTable(ingresses, secrets, buildRoutingTable(ingresses, backends), options);
}

describe('buildTlsTable', () => {
  it('gives each tls host the context of its Secret, and ClusterLocal hosts none', () => {
    const { createContext } = fakeContexts();
    const hello = tlsIngress('hello', [{ hosts: [HOST, LOCAL], secretName: 'hello-tls', secretNamespace: 'default' }]);
    const other = tlsIngress('other', [
      { hosts: ['other.default.example.com'], secretName: 'other-tls', secretNamespace: 'certs' },
    ]);
    const secrets = new Map([
      ['default/hello-tls', pem('a')],
      ['certs/other-tls', pem('b')],
    ]);
    const table = build([hello, other], secrets, { createContext });
    expect(table.contexts.get(HOST)).toEqual({ context: 'cert a|key a' });
    expect(table.contexts.get('other.default.example.com')).toEqual({ context: 'cert b|key b' });
    expect(table.contexts.has(LOCAL)).toBe(false);
    expect(table.redirects.size).toBe(0);
  });

  it('normalizes tls hosts as the routing table does', () => {
    const { createContext } = fakeContexts();
    const hello = tlsIngress('hello', [
      { hosts: ['Hello.Default.Example.com.'], secretName: 's', secretNamespace: 'default' },
    ]);
    const table = build([hello], new Map([['default/s', pem('a')]]), { createContext });
    expect([...table.contexts.keys()]).toEqual([HOST]);
  });

  it('puts no certificate on a host that another Ingress serves', () => {
    const { createContext } = fakeContexts();
    const first = tlsIngress('first', [], undefined, '2024-01-01T00:00:00Z');
    const second = tlsIngress('second', [], undefined, '2024-01-02T00:00:00Z');
    // Both claim `first`'s host; only the Ingress that serves it may put a certificate on it.
    const firstHost = 'first.default.example.com';
    second.spec!.rules!.push({ hosts: [firstHost], visibility: 'ExternalIP', http: second.spec!.rules![1]!.http! });
    second.spec!.tls = [{ hosts: [firstHost], secretName: 'second-tls', secretNamespace: 'default' }];
    const table = build([first, second], new Map([['default/second-tls', pem('b')]]), { createContext });
    expect(table.contexts.has(firstHost)).toBe(false);
  });

  it('builds a context once per Secret content and a new one when the content changes', () => {
    const { built, createContext } = fakeContexts();
    const hello = tlsIngress('hello', [{ hosts: [HOST], secretName: 's', secretNamespace: 'default' }]);
    const first = build([hello], new Map([['default/s', pem('a')]]), { createContext });
    const same = build([hello], new Map([['default/s', pem('a')]]), { createContext, previous: first });
    expect(same.contexts.get(HOST)).toBe(first.contexts.get(HOST));
    const rotated = build([hello], new Map([['default/s', pem('b')]]), { createContext, previous: same });
    expect(rotated.contexts.get(HOST)).toEqual({ context: 'cert b|key b' });
    expect(built).toEqual(['cert a', 'cert b']);
  });

  it('leaves the hosts of a missing or malformed Secret without TLS, says why, and serves the others', () => {
    const { createContext } = fakeContexts();
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
    const table = build(ingresses, secrets, { createContext });
    expect([...table.contexts.keys()]).toEqual(['a.default.example.com']);
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
    const { createContext } = fakeContexts();
    const hello = tlsIngress('hello', [{ hosts: [HOST], secretName: 's', secretNamespace: 'default' }]);
    const first = build([hello], new Map(), { createContext });
    const again = build([hello], new Map(), { createContext, previous: first });
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
