import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bearer, loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
const b64 = (text: string) => Buffer.from(text).toString('base64');

function write(name: string, config: object): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(config));
  return path;
}

const base = (
  user: object,
  cluster: object = { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64('CA PEM') },
) => ({
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'ctx',
  contexts: [
    { name: 'other', context: { cluster: 'nope', user: 'nope' } },
    { name: 'ctx', context: { cluster: 'c', user: 'u' } },
  ],
  clusters: [{ name: 'c', cluster }],
  users: [{ name: 'u', user }],
});

describe('kubeconfig loading', () => {
  it("reads the current context's server, CA and token", () => {
    const connection = loadKubeConnection(write('token.yaml', base({ token: 'abc' })));
    expect(connection).toEqual({ server: 'https://10.0.0.1:6443', ca: 'CA PEM', token: 'abc' });
    expect(bearer(connection)).toBe('Bearer abc');
  });

  it('reads client certificates inline or from files relative to the kubeconfig', () => {
    writeFileSync(join(dir, 'client.crt'), 'CERT');
    writeFileSync(join(dir, 'client.key'), 'KEY');
    writeFileSync(join(dir, 'ca.crt'), 'CA FILE');
    const fromFiles = loadKubeConnection(
      write(
        'files.yaml',
        base(
          { 'client-certificate': 'client.crt', 'client-key': 'client.key' },
          { server: 'https://h:1', 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': true },
        ),
      ),
    );
    expect(fromFiles).toEqual({
      server: 'https://h:1',
      ca: 'CA FILE',
      insecureSkipTLSVerify: true,
      clientCertificate: 'CERT',
      clientKey: 'KEY',
    });
    const inline = loadKubeConnection(
      write('inline.yaml', base({ 'client-certificate-data': b64('C'), 'client-key-data': b64('K') })),
    );
    expect(inline.clientCertificate).toBe('C');
    expect(bearer(inline)).toBeUndefined();
  });

  it('re-reads a token file on each request, as projected tokens rotate', () => {
    writeFileSync(join(dir, 'token'), 'first\n');
    const connection = loadKubeConnection(write('tokenfile.yaml', base({ tokenFile: 'token' })));
    expect(bearer(connection)).toBe('Bearer first');
    writeFileSync(join(dir, 'token'), 'second\n');
    expect(bearer(connection)).toBe('Bearer second');
  });

  it('says what is wrong with a kubeconfig it cannot use', () => {
    expect(() => loadKubeConnection(write('exec.yaml', base({ exec: { command: 'aws' } })))).toThrow(
      /exec or auth-provider plugin/,
    );
    expect(() => loadKubeConnection(write('nocontext.yaml', { ...base({}), 'current-context': 'missing' }))).toThrow(
      /current-context "missing" not found/,
    );
  });
});
