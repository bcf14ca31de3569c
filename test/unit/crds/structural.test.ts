import { describe, expect, it } from 'vitest';
import { StructuralConverter, type OpenApiSchema } from '../../../crds/schema/structural.ts';

const definitions: Record<string, OpenApiSchema> = {
  'test.Pod': {
    description: 'A pod.\n\nMore detail that is dropped.',
    properties: {
      keep: { allOf: [{ $ref: '#/components/schemas/test.Inner' }], default: {}, description: 'Inner thing.' },
      drop: { type: 'string' },
      port: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' },
      labels: { type: 'object', additionalProperties: { type: 'string', default: '' } },
      list: { type: 'array', items: { $ref: '#/components/schemas/test.Inner' } },
    },
    required: ['keep', 'drop'],
  },
  'test.Inner': {
    properties: { name: { type: 'string' }, count: { type: 'integer', format: 'int32' } },
    required: ['name'],
  },
  'test.Loop': { properties: { self: { $ref: '#/components/schemas/test.Loop' } } },
};

describe('StructuralConverter', () => {
  const converter = new StructuralConverter(definitions, {
    allow: { 'test.Pod': ['keep', 'port', 'labels', 'list'] },
    relaxRequired: { 'test.Inner': ['name'] },
    rules: { 'test.Inner': [{ rule: 'self.count >= 0', message: 'count must not be negative' }] },
    fieldRules: { 'test.Pod.list': { maxItems: 3 } },
  });
  const pod = converter.definition('test.Pod');

  it('inlines references, keeps the first paragraph of descriptions and drops defaults', () => {
    expect(pod.description).toBe('A pod.');
    expect(pod.properties?.keep).toEqual({
      type: 'object',
      description: 'Inner thing.',
      properties: { count: { type: 'integer', format: 'int32' }, name: { type: 'string' } },
      'x-kubernetes-validations': [{ rule: 'self.count >= 0', message: 'count must not be negative' }],
    });
    expect(pod.properties?.labels).toEqual({ type: 'object', additionalProperties: { type: 'string' } });
  });

  it('keeps only masked fields and their requirements', () => {
    expect(Object.keys(pod.properties ?? {})).toEqual(['keep', 'labels', 'list', 'port']);
    expect(pod.required).toEqual(['keep']);
  });

  it('turns IntOrString into x-kubernetes-int-or-string and applies field rules', () => {
    expect(pod.properties?.port).toEqual({
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      'x-kubernetes-int-or-string': true,
    });
    expect(pod.properties?.list?.maxItems).toBe(3);
  });

  it('refuses recursive definitions, which a CRD schema cannot express', () => {
    expect(() => converter.definition('test.Loop')).toThrow(/recursive definition test.Loop -> test.Loop/);
  });
});
