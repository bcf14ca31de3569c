import { describe, expect, it } from 'vitest';
import { review, type AdmissionReview } from '../../../controllers/webhook/admission.ts';
import { knativeDefaults } from '../../../controllers/webhook/config.ts';
import { validateConfiguration, validateRevision, validateService } from '../../../controllers/webhook/validation.ts';
import type { Configuration, Revision, Service } from '../../../lib/apis/serving.ts';
import { parseReservedInstanceConfig } from '../../../lib/config/reservedInstance.ts';

const config = knativeDefaults();

const service = (annotations: Record<string, string>): Service =>
  ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'hello' },
    spec: { template: { metadata: { annotations }, spec: { containers: [{ image: 'x' }] } } },
  }) as Service;

const revision = (annotations: Record<string, string>): Revision =>
  ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: { name: 'hello-00001', annotations },
    spec: { containers: [{ image: 'x' }] },
  }) as Revision;

describe('reserved-instance annotations in admission', () => {
  it('accepts good values, and enabled together with min-scale (which keeps standard instances instead)', () => {
    expect(
      validateService(
        service({
          'pilotlight.dev/reserved-instance': 'enabled',
          'pilotlight.dev/reserved-instance-cpu-request': '50m',
          'pilotlight.dev/reserved-instance-cpu-limit': '2',
          'pilotlight.dev/reserved-instance-memory-request': '128Mi',
          'pilotlight.dev/reserved-instance-memory-limit': '512Mi',
          'pilotlight.dev/reserved-instance-container-concurrency': '4',
          'pilotlight.dev/reserved-instance-node-selector': 'pool=burstable',
          'pilotlight.dev/reserved-instance-priority-class': 'reserved-low',
          'autoscaling.knative.dev/min-scale': '1',
        }),
        undefined,
        config,
      ),
    ).toEqual([]);
    expect(validateRevision(revision({ 'pilotlight.dev/reserved-instance': 'disabled' }), config)).toEqual([]);
  });

  it('rejects each bad value on a Service template with the annotation and the rule', () => {
    expect(
      validateService(
        service({
          'pilotlight.dev/reserved-instance': 'yes',
          'pilotlight.dev/reserved-instance-memory-limit': '256MB',
          'pilotlight.dev/reserved-instance-container-concurrency': '0',
          'pilotlight.dev/reserved-instance-node-selector': 'burstable',
        }),
        undefined,
        config,
      ),
    ).toEqual([
      {
        path: 'spec.template.metadata.annotations[pilotlight.dev/reserved-instance]',
        message: '"yes" must be enabled or disabled',
      },
      {
        path: 'spec.template.metadata.annotations[pilotlight.dev/reserved-instance-memory-limit]',
        message: '"256MB" must be a positive Kubernetes quantity such as 25m, 1 or 64Mi',
      },
      {
        path: 'spec.template.metadata.annotations[pilotlight.dev/reserved-instance-container-concurrency]',
        message: '"0" must be at least 1',
      },
      {
        path: 'spec.template.metadata.annotations[pilotlight.dev/reserved-instance-node-selector]',
        message: '"burstable" is not a node label: use comma-separated key=value pairs such as "pool=burstable,zone=a"',
      },
    ]);
  });

  it('rejects a request above its limit, checked against config-reserved-instance for the half the annotations leave out', () => {
    const annotations = { 'pilotlight.dev/reserved-instance-cpu-request': '1500m' };
    const configuration = {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Configuration',
      metadata: { name: 'hello' },
      spec: { template: { metadata: { annotations }, spec: { containers: [{ image: 'x' }] } } },
    } as unknown as Configuration;
    expect(validateConfiguration(configuration, undefined, config)).toEqual([
      {
        path: 'spec.template.metadata.annotations[pilotlight.dev/reserved-instance-cpu-request]',
        message:
          'request 1500m must not exceed the cpu limit 1000m (config-reserved-instance supplies what the annotations leave out)',
      },
    ]);
    const roomier = { ...config, reservedInstance: parseReservedInstanceConfig({ 'cpu-limit': '2' }) };
    expect(validateConfiguration(configuration, undefined, roomier)).toEqual([]);
  });

  it("checks a Revision's own annotations, and denies the AdmissionReview naming them", () => {
    expect(
      validateRevision(revision({ 'pilotlight.dev/reserved-instance-priority-class': 'Low' }), config).map(
        (e) => e.path,
      ),
    ).toEqual(['metadata.annotations[pilotlight.dev/reserved-instance-priority-class]']);
    const body: AdmissionReview = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u1',
        kind: { group: 'serving.knative.dev', version: 'v1', kind: 'Revision' },
        operation: 'UPDATE',
        object: revision({ 'pilotlight.dev/reserved-instance': 'maybe' }) as never,
        oldObject: revision({}) as never,
      },
    };
    const response = review('/validation', body, config).response!;
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toBe(
      'validation failed: metadata.annotations[pilotlight.dev/reserved-instance]: "maybe" must be enabled or disabled',
    );
  });
});
