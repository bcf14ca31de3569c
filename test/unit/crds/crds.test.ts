import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderCrds } from '../../../crds/render.ts';
import type { JSONSchemaProps } from '../../../crds/schema/structural.ts';

const rendered = renderCrds();
const crdDir = join(import.meta.dirname, '..', '..', '..', 'crds');

function walk(schema: JSONSchemaProps, path: string, visit: (s: JSONSchemaProps, path: string) => void): void {
  visit(schema, path);
  for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`, visit);
  if (schema.items) walk(schema.items, `${path}[]`, visit);
  if (schema.additionalProperties) walk(schema.additionalProperties, `${path}{}`, visit);
}

describe('generated CRDs', () => {
  it('the committed crds/*.yaml are what hack/gen-crds.ts generates', () => {
    for (const [file, text] of rendered) {
      expect(readFileSync(join(crdDir, file), 'utf8'), `${file} is stale: run npm run gen:crds`).toBe(text);
    }
  });

  it('every schema node is structural: typed (or int-or-string), no $ref, no defaults', () => {
    for (const [file, text] of rendered) {
      const crd = parse(text);
      walk(crd.spec.versions[0].schema.openAPIV3Schema, file, (s, path) => {
        expect('$ref' in s, path).toBe(false);
        expect('default' in s, path).toBe(false);
        if (!s['x-kubernetes-int-or-string']) expect(s.type, path).toBeDefined();
      });
    }
  });

  it("the revision template accepts Knative's PodSpec subset and nothing Knative forbids", () => {
    const service = parse(rendered.find(([f]) => f.startsWith('services.'))![1]);
    const spec = service.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.template.properties.spec;
    const fields = Object.keys(spec.properties);
    for (const allowed of [
      'containers',
      'volumes',
      'serviceAccountName',
      'imagePullSecrets',
      'enableServiceLinks',
      'automountServiceAccountToken',
      'affinity',
      'nodeSelector',
      'tolerations',
      'initContainers',
      'containerConcurrency',
      'timeoutSeconds',
      'responseStartTimeoutSeconds',
      'idleTimeoutSeconds',
    ]) {
      expect(fields).toContain(allowed);
    }
    for (const forbidden of [
      'nodeName',
      'restartPolicy',
      'terminationGracePeriodSeconds',
      'activeDeadlineSeconds',
      'hostname',
      'readinessGates',
    ]) {
      expect(fields).not.toContain(forbidden);
    }
    const container = Object.keys(spec.properties.containers.items.properties);
    expect(container).toEqual(
      expect.arrayContaining([
        'image',
        'env',
        'ports',
        'readinessProbe',
        'livenessProbe',
        'startupProbe',
        'resources',
        'securityContext',
        'volumeMounts',
      ]),
    );
    expect(container).not.toContain('lifecycle');
    expect(container).not.toContain('stdin');
    expect(spec.properties.containers.items.required).toEqual(['image']);
    const quantity = spec.properties.containers.items.properties.resources.properties.limits.additionalProperties;
    expect(quantity['x-kubernetes-int-or-string']).toBe(true);
  });

  it('names, short names and printer columns match Knative', () => {
    const byName = new Map(
      rendered.map(([, text]) => {
        const c = parse(text);
        return [c.metadata.name, c];
      }),
    );
    const shortNames = (name: string) => byName.get(name).spec.names.shortNames;
    expect(shortNames('services.serving.knative.dev')).toEqual(['kservice', 'ksvc']);
    expect(shortNames('configurations.serving.knative.dev')).toContain('cfg');
    expect(shortNames('revisions.serving.knative.dev')).toEqual(['rev']);
    expect(shortNames('routes.serving.knative.dev')).toEqual(['rt']);
    expect(shortNames('podautoscalers.autoscaling.internal.knative.dev')).toContain('kpa');
    expect(shortNames('ingresses.networking.internal.knative.dev')).toContain('kingress');
    expect(shortNames('serverlessservices.networking.internal.knative.dev')).toEqual(['sks']);
    expect(shortNames('domainmappings.serving.knative.dev')).toEqual(['dm']);
    expect(byName.get('domainmappings.serving.knative.dev').spec.versions[0].name).toBe('v1beta1');
    expect(
      byName
        .get('domainmappings.serving.knative.dev')
        .spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name),
    ).toEqual(['URL', 'Ready', 'Reason']);
    expect(shortNames('clusterdomainclaims.networking.internal.knative.dev')).toEqual(['cdc']);
    expect(byName.get('clusterdomainclaims.networking.internal.knative.dev').spec.scope).toBe('Cluster');
    const certificate = byName.get('certificates.networking.internal.knative.dev');
    expect(shortNames('certificates.networking.internal.knative.dev')).toEqual(['kcert']);
    expect(certificate.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual([
      'Ready',
      'Reason',
    ]);
    const columns = byName
      .get('services.serving.knative.dev')
      .spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name);
    // Knative's columns, then pilotlight's canary analysis (its message with -o wide only).
    expect(columns).toEqual(['URL', 'LatestCreated', 'LatestReady', 'Ready', 'Reason', 'Canary', 'Canary Message']);
    for (const crd of byName.values()) expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
  });
});
