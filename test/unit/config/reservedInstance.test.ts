import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  parseReservedInstanceAnnotations,
  parseReservedInstanceConfig,
  planReservedInstance,
  type ReservedInstanceConfig,
} from '../../../lib/config/reservedInstance.ts';
import { quantityValue } from '../../../lib/config/parse.ts';
import { refused } from '../../support/configIssues.ts';

const SIZING = {
  cpuRequest: '25m',
  cpuLimit: '1000m',
  memoryRequest: '64Mi',
  memoryLimit: '256Mi',
  containerConcurrency: 10,
  nodeSelector: {},
};
const DEFAULTS: ReservedInstanceConfig = { enabled: false, ...SIZING };

describe('Kubernetes quantities', () => {
  it.each([
    ['25m', 0.025],
    ['1', 1],
    ['1.5', 1.5],
    ['64Mi', 64 * 2 ** 20],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['2k', 2000],
    ['1e3', 1000],
    ['.5', 0.5],
    ['100n', 1e-7],
  ])('%s is %d', (text, value) => expect(quantityValue(text)).toBeCloseTo(value, 12));
  it.each(['', 'Mi', '1.5.1', '12x', '1 Gi', '1mi', '1KiB'])('%j is not a quantity', (text) =>
    expect(quantityValue(text)).toBeUndefined(),
  );
});

describe('config-reserved-instance', () => {
  it('is off by default, with a 25m/1 CPU and 64Mi/256Mi memory instance that takes 10 requests', () => {
    expect(parseReservedInstanceConfig()).toEqual(DEFAULTS);
    expect(parseReservedInstanceConfig({})).toEqual(DEFAULTS);
  });

  it('ships in the chart with exactly the built-in defaults', () => {
    const template = readFileSync(
      join(import.meta.dirname, '../../../charts/pilotlight/templates/config-reserved-instance.yaml'),
      'utf8',
    );
    const shipped = parse(template.replace(/\{\{.*?\}\}/g, 'x')) as {
      metadata: { name: string };
      data: Record<string, string>;
    };
    expect(shipped.metadata.name).toBe('config-reserved-instance');
    expect(Object.keys(shipped.data).sort()).toEqual([
      'container-concurrency',
      'cpu-limit',
      'cpu-request',
      'enabled',
      'memory-limit',
      'memory-request',
      'node-selector',
      'priority-class-name',
    ]);
    expect(parseReservedInstanceConfig(shipped.data)).toEqual(DEFAULTS);
  });

  it('reads every key', () => {
    expect(
      parseReservedInstanceConfig({
        enabled: 'True',
        'cpu-request': '50m',
        'cpu-limit': '2',
        'memory-request': '128Mi',
        'memory-limit': '1Gi',
        'container-concurrency': '4',
        'node-selector': 'pool=burstable, topology.kubernetes.io/zone=a',
        'priority-class-name': 'reserved-low',
      }),
    ).toEqual({
      enabled: true,
      cpuRequest: '50m',
      cpuLimit: '2',
      memoryRequest: '128Mi',
      memoryLimit: '1Gi',
      containerConcurrency: 4,
      nodeSelector: { pool: 'burstable', 'topology.kubernetes.io/zone': 'a' },
      priorityClassName: 'reserved-low',
    });
  });

  it('names every bad key and its rule', () => {
    expect(
      refused(parseReservedInstanceConfig, {
        enabled: 'yes',
        'memory-limit': '256MB',
        'container-concurrency': '0',
        'node-selector': 'pool',
        'priority-class-name': 'Low_Priority',
      }),
    ).toMatch(
      'enabled: must be true or false; ' +
        'memory-limit: must be a positive Kubernetes quantity such as 25m, 1 or 64Mi; ' +
        'container-concurrency: must be at least 1; ' +
        'node-selector: "pool" is not a node label: use comma-separated key=value pairs such as "pool=burstable,zone=a"; ' +
        'priority-class-name: must be the name of a PriorityClass (a lowercase RFC 1123 subdomain)',
    );
    expect(refused(parseReservedInstanceConfig, { 'cpu-request': '0' })).toMatch(
      'cpu-request: must be a positive Kubernetes quantity',
    );
  });

  it('rejects a request above its limit, including one above a default limit', () => {
    expect(refused(parseReservedInstanceConfig, { 'cpu-request': '1500m' })).toMatch(
      'cpu-request: 1500m must not exceed the cpu limit 1000m',
    );
    expect(refused(parseReservedInstanceConfig, { 'memory-request': '1Gi', 'memory-limit': '512Mi' })).toMatch(
      'memory-request: 1Gi must not exceed the memory limit 512Mi',
    );
    expect(parseReservedInstanceConfig({ 'cpu-request': '1', 'cpu-limit': '1000m' }).cpuRequest).toBe('1');
  });
});

describe('reserved-instance annotations', () => {
  const config = parseReservedInstanceConfig();

  it('override the cluster values one by one', () => {
    expect(
      parseReservedInstanceAnnotations(
        {
          'pilotlight.dev/reserved-instance': 'Enabled',
          'pilotlight.dev/reserved-instance-cpu-limit': '500m',
          'pilotlight.dev/reserved-instance-memory-request': '100Mi',
          'pilotlight.dev/reserved-instance-container-concurrency': '3',
          'pilotlight.dev/reserved-instance-node-selector': 'pool=cheap',
          'pilotlight.dev/reserved-instance-priority-class': 'low',
        },
        config,
      ),
    ).toEqual({
      values: {
        enabled: true,
        sizing: {
          cpuRequest: '25m',
          cpuLimit: '500m',
          memoryRequest: '100Mi',
          memoryLimit: '256Mi',
          containerConcurrency: 3,
          nodeSelector: { pool: 'cheap' },
          priorityClassName: 'low',
        },
      },
      issues: [],
    });
    expect(
      parseReservedInstanceAnnotations({ 'pilotlight.dev/reserved-instance': 'disabled' }, config).values.enabled,
    ).toBe(false);
    expect(parseReservedInstanceAnnotations(undefined, config)).toEqual({ values: { sizing: SIZING }, issues: [] });
  });

  it('report each bad value with the annotation and the rule, and leave it to the cluster value', () => {
    const { values, issues } = parseReservedInstanceAnnotations(
      {
        'pilotlight.dev/reserved-instance': 'on',
        'pilotlight.dev/reserved-instance-cpu-request': 'lots',
        'pilotlight.dev/reserved-instance-container-concurrency': '0',
        'pilotlight.dev/reserved-instance-node-selector': 'pool=',
        'pilotlight.dev/reserved-instance-priority-class': 'Not Valid',
      },
      config,
    );
    expect(issues).toEqual([
      { key: 'pilotlight.dev/reserved-instance', message: '"on" must be enabled or disabled' },
      {
        key: 'pilotlight.dev/reserved-instance-cpu-request',
        message: '"lots" must be a positive Kubernetes quantity such as 25m, 1 or 64Mi',
      },
      { key: 'pilotlight.dev/reserved-instance-container-concurrency', message: '"0" must be at least 1' },
      {
        key: 'pilotlight.dev/reserved-instance-priority-class',
        message: '"Not Valid" must be the name of a PriorityClass (a lowercase RFC 1123 subdomain)',
      },
    ]);
    // "pool=" is a valid selector: an empty label value.
    expect(values.sizing).toEqual({ ...SIZING, nodeSelector: { pool: '' } });
    expect(values.enabled).toBeUndefined();
  });

  it('blame the annotation that pushes a request above a limit, wherever the other half comes from', () => {
    expect(
      parseReservedInstanceAnnotations({ 'pilotlight.dev/reserved-instance-memory-request': '512Mi' }, config).issues,
    ).toEqual([
      {
        key: 'pilotlight.dev/reserved-instance-memory-request',
        message:
          'request 512Mi must not exceed the memory limit 256Mi (config-reserved-instance supplies what the annotations leave out)',
      },
    ]);
    expect(
      parseReservedInstanceAnnotations({ 'pilotlight.dev/reserved-instance-cpu-limit': '10m' }, config).issues.map(
        (i) => i.key,
      ),
    ).toEqual(['pilotlight.dev/reserved-instance-cpu-limit']);
  });
});

describe('planReservedInstance', () => {
  const on = parseReservedInstanceConfig({ enabled: 'true' });
  const off = parseReservedInstanceConfig();
  const plan = (over: Partial<Parameters<typeof planReservedInstance>[0]>) =>
    planReservedInstance({ annotations: {}, config: on, containerConcurrency: undefined, minScale: 0, ...over });

  it('follows the annotation, else the cluster default', () => {
    expect(plan({ config: off })).toEqual({ keep: false, reason: 'disabled' });
    expect(plan({ config: off, annotations: { 'pilotlight.dev/reserved-instance': 'enabled' } }).keep).toBe(true);
    expect(plan({ annotations: { 'pilotlight.dev/reserved-instance': 'disabled' } })).toEqual({
      keep: false,
      reason: 'disabled',
    });
    expect(plan({})).toEqual({ keep: true, sizing: SIZING });
  });

  it('keeps none when min-scale holds standard instances', () => {
    expect(plan({ minScale: 1 })).toEqual({ keep: false, reason: 'min-scale' });
    expect(plan({ minScale: 3, annotations: { 'pilotlight.dev/reserved-instance': 'enabled' } })).toEqual({
      keep: false,
      reason: 'min-scale',
    });
  });

  it("caps the reserved concurrency by the revision's containerConcurrency when that is set", () => {
    const cc = (over: Partial<Parameters<typeof planReservedInstance>[0]>) => {
      const result = plan(over);
      return result.keep ? result.sizing.containerConcurrency : undefined;
    };
    expect(cc({ containerConcurrency: undefined })).toBe(10);
    expect(cc({ containerConcurrency: 0 })).toBe(10);
    expect(cc({ containerConcurrency: 4 })).toBe(4);
    expect(cc({ containerConcurrency: 50 })).toBe(10);
    expect(
      cc({ containerConcurrency: 50, annotations: { 'pilotlight.dev/reserved-instance-container-concurrency': '20' } }),
    ).toBe(20);
    expect(
      cc({ containerConcurrency: 2, annotations: { 'pilotlight.dev/reserved-instance-container-concurrency': '20' } }),
    ).toBe(2);
  });

  it('keeps none for invalid settings, and says why', () => {
    expect(plan({ annotations: { 'pilotlight.dev/reserved-instance-cpu-request': '2' } })).toEqual({
      keep: false,
      reason: 'invalid',
      issues: [
        {
          key: 'pilotlight.dev/reserved-instance-cpu-request',
          message:
            'request 2 must not exceed the cpu limit 1000m (config-reserved-instance supplies what the annotations leave out)',
        },
      ],
    });
    // Bad settings of a revision that keeps no reserved instance matter to nobody.
    expect(plan({ minScale: 1, annotations: { 'pilotlight.dev/reserved-instance-cpu-request': '2' } }).keep).toBe(
      false,
    );
  });
});
