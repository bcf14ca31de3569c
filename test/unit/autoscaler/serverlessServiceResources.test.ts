import type { V1Endpoints } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { effectiveMode } from '../../../autoscaler/serverlessservice/reconciler.ts';
import {
  chooseSubset,
  filterSubsetPorts,
  makePrivateService,
  makePublicEndpoints,
  makePublicService,
  readyAddressCount,
  subsetEndpoints,
} from '../../../autoscaler/serverlessservice/resources.ts';
import type { ServerlessService } from '../../../lib/apis/networking.ts';
import { HTTP1_QUEUE_SERVICE_PORTS } from '../../support/servingFixtures.ts';

function sks(protocolType: 'http1' | 'h2c' = 'http1'): ServerlessService {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'ServerlessService',
    metadata: {
      name: 'hello-00001',
      namespace: 'ns',
      uid: 'sks-uid',
      labels: { 'serving.knative.dev/revision': 'hello-00001' },
      annotations: { a: 'b' },
    },
    spec: {
      mode: 'Serve',
      numActivators: 2,
      protocolType,
      objectRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello-00001-deployment' },
    },
  };
}

const owner = {
  apiVersion: 'networking.internal.knative.dev/v1alpha1',
  kind: 'ServerlessService',
  name: 'hello-00001',
  uid: 'sks-uid',
  controller: true,
  blockOwnerDeletion: true,
};

const endpoints = (ips: string[], ports = [8012, 8013, 8112, 9090]): V1Endpoints => ({
  metadata: { name: 'src' },
  subsets: [{ addresses: ips.map((ip) => ({ ip })), ports: ports.map((port) => ({ port, protocol: 'TCP' })) }],
});

describe('makePrivateService', () => {
  it('selects the pods and exposes serving, TLS, both metrics ports and the mesh port', () => {
    expect(makePrivateService(sks(), { 'serving.knative.dev/revisionUID': 'r' })).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'hello-00001-private',
        namespace: 'ns',
        labels: {
          'serving.knative.dev/revision': 'hello-00001',
          'networking.internal.knative.dev/serverlessservice': 'hello-00001',
          'networking.internal.knative.dev/serviceType': 'Private',
        },
        annotations: { a: 'b' },
        ownerReferences: [owner],
      },
      spec: {
        selector: { 'serving.knative.dev/revisionUID': 'r' },
        ports: HTTP1_QUEUE_SERVICE_PORTS,
      },
    });
  });

  it('uses the HTTP/2 port and app protocol for h2c revisions', () => {
    const ports = makePrivateService(sks('h2c'), {}).spec!.ports!;
    expect(ports[0]).toEqual({
      name: 'http2',
      protocol: 'TCP',
      appProtocol: 'kubernetes.io/h2c',
      port: 80,
      targetPort: 8013,
    });
    expect(ports[4]).toEqual({ name: 'http2-istio', protocol: 'TCP', port: 8013, targetPort: 8013 });
  });
});

describe('makePublicService', () => {
  it('has no selector, and listens on 80 (http1) or 81 (h2c) plus 443', () => {
    const http1 = makePublicService(sks());
    expect(http1.metadata?.name).toBe('hello-00001');
    expect(http1.metadata?.labels?.['networking.internal.knative.dev/serviceType']).toBe('Public');
    expect(http1.spec).toEqual({
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 8012 },
        { name: 'https', protocol: 'TCP', port: 443, targetPort: 8112 },
      ],
    });
    expect(makePublicService(sks('h2c')).spec?.ports?.[0]).toEqual({
      name: 'http2',
      protocol: 'TCP',
      appProtocol: 'kubernetes.io/h2c',
      port: 81,
      targetPort: 8013,
    });
  });
});

describe('public endpoints', () => {
  it('copy the source addresses with only the target port and TLS', () => {
    const built = makePublicEndpoints(sks(), endpoints(['10.0.0.1', '10.0.0.2']));
    expect(built.metadata).toMatchObject({ name: 'hello-00001', namespace: 'ns', ownerReferences: [owner] });
    expect(built.subsets).toEqual([
      {
        addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }],
        ports: [
          { port: 8012, protocol: 'TCP' },
          { port: 8112, protocol: 'TCP' },
        ],
      },
    ]);
    expect(filterSubsetPorts('h2c', endpoints(['10.0.0.1']).subsets!)[0]!.ports!.map((p) => p.port)).toEqual([
      8013, 8112,
    ]);
    expect(makePublicEndpoints(sks(), {}).subsets).toEqual([]);
  });

  it('count ready addresses across subsets', () => {
    expect(readyAddressCount(undefined)).toBe(0);
    expect(
      readyAddressCount({ subsets: [{ addresses: [{ ip: 'a' }] }, { addresses: [{ ip: 'b' }, { ip: 'c' }] }] }),
    ).toBe(3);
  });
});

describe('activator subsets', () => {
  const activators = Array.from({ length: 10 }, (_, i) => `10.0.0.${i}`);

  it('keep the same activators for a revision whatever the order they are listed in', () => {
    const chosen = chooseSubset(activators, 3, 'hello-00001');
    expect(chosen).toHaveLength(3);
    expect(chooseSubset([...activators].reverse(), 3, 'hello-00001')).toEqual(chosen);
  });

  it('mostly keep their activators when one more joins', () => {
    const before = new Set(chooseSubset(activators, 3, 'hello-00001'));
    const after = chooseSubset([...activators, '10.0.0.99'], 3, 'hello-00001');
    expect(after.filter((ip) => before.has(ip)).length).toBeGreaterThanOrEqual(2);
  });

  it('spread revisions over different activators', () => {
    const picks = new Set(Array.from({ length: 20 }, (_, i) => chooseSubset(activators, 2, `rev-${i}`).join(',')));
    expect(picks.size).toBeGreaterThan(5);
  });

  it('limit endpoints to n addresses, or leave them whole when there are not more', () => {
    const source = endpoints(activators);
    const subset = subsetEndpoints(source, 'hello-00001', 2);
    expect(readyAddressCount(subset)).toBe(2);
    expect(subset.subsets![0]!.ports).toEqual(source.subsets![0]!.ports);
    expect(subsetEndpoints(source, 'hello-00001', 10)).toBe(source);
  });
});

describe('effectiveMode', () => {
  it('follows the SKS unless no pod or no activator is ready', () => {
    expect(effectiveMode('Serve', 2, 3)).toBe('Serve');
    expect(effectiveMode('Proxy', 2, 3)).toBe('Proxy');
    expect(effectiveMode('Serve', 0, 3)).toBe('Proxy');
    expect(effectiveMode('Proxy', 2, 0)).toBe('Serve');
  });
});
