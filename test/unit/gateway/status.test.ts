import type { SecureContext } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { backendKey, buildRoutingTable, type BackendStates, type Ingress } from '../../../gateway/routing/table.ts';
import { notServedReason } from '../../../gateway/status.ts';
import { buildTlsTable, type TlsSecrets } from '../../../gateway/tls.ts';
import { routeIngress, serving } from '../../../harness/kingress.ts';

const hello = routeIngress({ name: 'hello', targets: { '': [{ revision: 'hello-1', percent: 100 }] } });

const live = (ingresses: Ingress[], backends: BackendStates, secrets: TlsSecrets = new Map()) => {
  const table = buildRoutingTable(ingresses, backends);
  return {
    table,
    alternatives: new Map(),
    snapshot: { ingresses, backends, secrets },
    tls: buildTlsTable(ingresses, secrets, table, {
      load: (certificate) => ({
        context: {} as SecureContext,
        facts: { covers: () => !certificate.includes('misnamed'), notBefore: new Date(0), notAfter: new Date(8.64e15) },
      }),
    }),
  };
};

describe('notServedReason', () => {
  it('is undefined once every host is in the table and every backend has a ready address', () => {
    expect(notServedReason(hello, live([hello], serving(['hello-1'])))).toBeUndefined();
  });

  it('waits for a backend whose Service is unknown', () => {
    expect(notServedReason(hello, live([hello], new Map()))).toBe('backend default/hello-1:80 has no Service yet');
  });

  // Ready must mean a request sent now is answered: the KIngress conformance `update` test sends
  // one right after an update turns Ready and got 503 while the new backend had no endpoints here.
  it('waits for a backend the table knows but has no ready address for yet, in either mode', () => {
    const key = backendKey('default', 'hello-1', 80);
    const serveEmpty = new Map([[key, { mode: 'serve', protocol: 'http1', endpoints: [] } as const]]);
    const proxyEmpty = new Map([[key, { mode: 'proxy', protocol: 'http1', activators: [] } as const]]);
    for (const backends of [serveEmpty, proxyEmpty])
      expect(notServedReason(hello, live([hello], backends))).toBe(
        'backend default/hello-1:80 has no ready endpoints yet',
      );
  });

  it('waits for the Secrets of its tls entries to load with a certificate for its hosts', () => {
    const withTls = {
      ...hello,
      spec: {
        ...hello.spec,
        tls: [{ hosts: ['hello.default.example.com'], secretName: 'hello-tls', secretNamespace: 'default' }],
      },
    };
    expect(notServedReason(withTls, live([withTls], serving(['hello-1'])))).toBe(
      'Secret default/hello-tls not found (or not of type kubernetes.io/tls)',
    );
    const malformed = new Map([['default/hello-tls', { certificate: 'PEM' }]]);
    expect(notServedReason(withTls, live([withTls], serving(['hello-1']), malformed))).toBe(
      'Secret default/hello-tls has no tls.key',
    );
    const loaded = new Map([['default/hello-tls', { certificate: 'PEM', privateKey: 'PEM' }]]);
    expect(notServedReason(withTls, live([withTls], serving(['hello-1']), loaded))).toBeUndefined();
    const misnamed = new Map([['default/hello-tls', { certificate: 'misnamed PEM', privateKey: 'PEM' }]]);
    expect(notServedReason(withTls, live([withTls], serving(['hello-1']), misnamed))).toBe(
      'host hello.default.example.com: the certificate of Secret default/hello-tls does not name it',
    );
  });
});
