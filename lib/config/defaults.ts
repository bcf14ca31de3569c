// config-defaults: defaults and limits of revisions (upstream pkg/apis/config/defaults.go).
import { z } from 'zod';
import { intString, type ConfigIssueReporter, parseConfigMap, quantityString } from './parse.ts';

const quantity = quantityString('100m or 128Mi');

const tristate = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', 'default'].includes(v), 'must be true, false or default')
  .transform((v) => (v === 'default' ? undefined : v === 'true'));

const containerNameTemplate = z
  .string()
  .trim()
  .min(1)
  .refine(
    (v) => /^([a-z0-9-]|\{\{\s*\.(Name|Namespace)\s*\}\})+$/.test(v),
    'must be a DNS label, optionally with {{.Name}} or {{.Namespace}} of the parent object',
  );

export const defaultsSchema = z
  .object({
    'revision-timeout-seconds': intString({ min: 1 }).default(300),
    'max-revision-timeout-seconds': intString({ min: 1 }).default(600),
    'revision-response-start-timeout-seconds': intString({ min: 0 }).optional(),
    'revision-idle-timeout-seconds': intString({ min: 0 }).default(0),
    'container-concurrency': intString({ min: 0 }).default(0),
    'container-concurrency-max-limit': intString({ min: 1 }).default(1000),
    'allow-container-concurrency-zero': z
      .string()
      .trim()
      .toLowerCase()
      .refine((v) => v === 'true' || v === 'false', 'must be true or false')
      .transform((v) => v === 'true')
      .default(true),
    'container-name-template': containerNameTemplate.default('user-container'),
    'init-container-name-template': containerNameTemplate.default('init-container'),
    'enable-service-links': tristate.default(false),
    'revision-cpu-request': quantity.optional(),
    'revision-cpu-limit': quantity.optional(),
    'revision-memory-request': quantity.optional(),
    'revision-memory-limit': quantity.optional(),
    'revision-ephemeral-storage-request': quantity.optional(),
    'revision-ephemeral-storage-limit': quantity.optional(),
  })
  .superRefine((c, ctx) => {
    if (c['revision-timeout-seconds'] > c['max-revision-timeout-seconds']) {
      ctx.addIssue({
        code: 'custom',
        path: ['revision-timeout-seconds'],
        message: 'must not exceed max-revision-timeout-seconds',
      });
    }
    if (c['container-concurrency'] > c['container-concurrency-max-limit']) {
      ctx.addIssue({
        code: 'custom',
        path: ['container-concurrency'],
        message: 'must not exceed container-concurrency-max-limit',
      });
    }
    if (c['container-concurrency'] === 0 && !c['allow-container-concurrency-zero']) {
      ctx.addIssue({
        code: 'custom',
        path: ['container-concurrency'],
        message: 'must be at least 1 when allow-container-concurrency-zero is false',
      });
    }
  })
  .transform((c) => ({
    revisionTimeoutSeconds: c['revision-timeout-seconds'],
    maxRevisionTimeoutSeconds: c['max-revision-timeout-seconds'],
    revisionResponseStartTimeoutSeconds: c['revision-response-start-timeout-seconds'] ?? c['revision-timeout-seconds'],
    revisionIdleTimeoutSeconds: c['revision-idle-timeout-seconds'],
    containerConcurrency: c['container-concurrency'],
    containerConcurrencyMaxLimit: c['container-concurrency-max-limit'],
    allowContainerConcurrencyZero: c['allow-container-concurrency-zero'],
    containerNameTemplate: c['container-name-template'],
    initContainerNameTemplate: c['init-container-name-template'],
    enableServiceLinks: c['enable-service-links'],
    resources: {
      requests: compact({
        cpu: c['revision-cpu-request'],
        memory: c['revision-memory-request'],
        'ephemeral-storage': c['revision-ephemeral-storage-request'],
      }),
      limits: compact({
        cpu: c['revision-cpu-limit'],
        memory: c['revision-memory-limit'],
        'ephemeral-storage': c['revision-ephemeral-storage-limit'],
      }),
    },
  }));

function compact(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined));
}

export type Defaults = z.output<typeof defaultsSchema>;

export const CONFIG_DEFAULTS = 'config-defaults';
export const parseDefaults = (data?: Record<string, string>, report?: ConfigIssueReporter): Defaults =>
  parseConfigMap(CONFIG_DEFAULTS, defaultsSchema, data, report);

/** Expands a container name template over the parent object's metadata. */
export function containerName(template: string, parent: { name?: string; namespace?: string }): string {
  return template.replace(
    /\{\{\s*\.(Name|Namespace)\s*\}\}/g,
    (_, field: string) => (field === 'Name' ? parent.name : parent.namespace) ?? '',
  );
}
