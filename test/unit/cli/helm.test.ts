import { describe, expect, it } from 'vitest';
import { installArgs } from '../../../cli/cluster/helm.ts';
import { devVersion } from '../../../cli/images/publish.ts';

describe('installArgs', () => {
  it("is README's helm install from a registry, with what the caller adds", () => {
    expect(
      installArgs({
        chart: 'oci://10.245.0.1:5000/charts/pilotlight',
        version: '0.1.0-dev-abc',
        values: { 'gateway.hostPort': '31080' },
        caFile: '/state/pki/ca.crt',
        wait: true,
      }),
    ).toEqual([
      'upgrade',
      '--install',
      'pilotlight',
      'oci://10.245.0.1:5000/charts/pilotlight',
      '--version',
      '0.1.0-dev-abc',
      '--namespace',
      'knative-serving',
      '--create-namespace',
      '--set',
      'gateway.hostPort=31080',
      '--ca-file',
      '/state/pki/ca.crt',
      '--wait',
      '--timeout',
      '300s',
    ]);
  });

  it('names the kube context for a configured cluster and does not wait', () => {
    const args = installArgs({ chart: '/repo/charts/pilotlight', values: {}, context: 'prod', wait: false });
    expect(args).toContain('--kube-context');
    expect(args[args.indexOf('--kube-context') + 1]).toBe('prod');
    expect(args).not.toContain('--wait');
    expect(args).not.toContain('--version');
  });
});

describe('devVersion', () => {
  it('is a semver pre-release of the package version that changes with the image and with the chart', () => {
    const version = devVersion('fd89487e49ed', 'a1b2c3d4e5f6');
    expect(version).toMatch(/^\d+\.\d+\.\d+-dev-[0-9a-f]{12}$/);
    expect(devVersion('fd89487e49ed', 'a1b2c3d4e5f6')).toBe(version);
    expect(devVersion('000000000000', 'a1b2c3d4e5f6')).not.toBe(version);
    expect(devVersion('fd89487e49ed', '000000000000')).not.toBe(version);
  });
});
