import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REGISTRY_HOST } from '../../../cli/cluster/node.ts';
import { containerdHostsToml, registryConfig } from '../../../cli/cluster/registry.ts';

describe('the node registry', () => {
  it('is named by the node address, not a *.local name Knative would skip', () => {
    expect(REGISTRY_HOST).toBe('10.245.0.1:5000');
    expect(REGISTRY_HOST.split(':')[0]).not.toMatch(/\.local$/);
  });

  it('serves TLS on its address with filesystem storage', () => {
    const config = parse(
      registryConfig({
        address: REGISTRY_HOST,
        storageDir: '/s/data',
        certificateFile: '/s/tls.crt',
        keyFile: '/s/tls.key',
      }),
    );
    expect(config).toMatchObject({
      version: 0.1,
      storage: { filesystem: { rootdirectory: '/s/data' } },
      http: { addr: '10.245.0.1:5000', tls: { certificate: '/s/tls.crt', key: '/s/tls.key' } },
    });
  });

  it('is pulled from by containerd over https, trusting the cluster CA', () => {
    expect(containerdHostsToml(REGISTRY_HOST, '/state/pki/ca.crt')).toBe(`server = "https://10.245.0.1:5000"

[host."https://10.245.0.1:5000"]
  capabilities = ["pull", "resolve"]
  ca = "/state/pki/ca.crt"
`);
  });
});
