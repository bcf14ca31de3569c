import { describe, expect, it } from 'vitest';
import { parseRoutesFile } from '../../../gateway/sources/static.ts';

describe('parseRoutesFile: secrets', () => {
  it('takes PEM inline or from files relative to the routes file, and lists the files it read', () => {
    const read: string[] = [];
    const snapshot = parseRoutesFile(
      [
        'secrets:',
        '  - {namespace: default, name: inline, cert: CERT, key: KEY}',
        '  - {namespace: certs, name: files, certFile: tls.crt, keyFile: /abs/tls.key}',
      ].join('\n'),
      '/routes',
      (path) => {
        read.push(path);
        return path === '/routes/tls.crt' ? 'CERT FROM FILE' : undefined;
      },
    );
    expect(Object.fromEntries(snapshot.secrets)).toEqual({
      'default/inline': { certificate: 'CERT', privateKey: 'KEY' },
      // An unreadable file leaves that key absent, which the TLS table reports for the Secret.
      'certs/files': { certificate: 'CERT FROM FILE', privateKey: undefined },
    });
    expect(snapshot.files).toEqual(['/routes/tls.crt', '/abs/tls.key']);
    expect(read).toEqual(snapshot.files);
  });

  it('refuses a secret with both or neither of cert and certFile, naming the rule', () => {
    const parse = (entry: string) => () => parseRoutesFile(`secrets: [${entry}]`, '/routes', () => 'PEM');
    expect(parse('{namespace: a, name: b, cert: X, certFile: y, key: K}')).toThrow(/exactly one of cert and certFile/);
    expect(parse('{namespace: a, name: b, cert: X}')).toThrow(/exactly one of key and keyFile/);
  });
});
