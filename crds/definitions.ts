import { readyColumns } from './schema/common.ts';
import { clusterDomainClaimSchema, domainMappingSchema } from './schema/domainMapping.ts';
import { certificateSchema, ingressSchema, podAutoscalerSchema, serverlessServiceSchema } from './schema/internal.ts';
import { servingSchemas } from './schema/serving.ts';
import type { JSONSchemaProps, OpenApiSchema } from './schema/structural.ts';

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Namespaced' | 'Cluster';
    versions: {
      name: string;
      served: true;
      storage: true;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

interface Definition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  shortNames: string[];
  categories: string[];
  duck: ('addressable' | 'podspecable')[];
  columns: PrinterColumn[];
  schema: JSONSchemaProps;
  /** Namespaced unless said otherwise. */
  scope?: 'Cluster';
}

function crd(d: Definition): CustomResourceDefinition {
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': 'pilotlight',
    'knative.dev/crd-install': 'true',
  };
  for (const duck of d.duck) labels[`duck.knative.dev/${duck}`] = 'true';
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${d.plural}.${d.group}`, labels },
    spec: {
      group: d.group,
      names: {
        kind: d.kind,
        plural: d.plural,
        singular: d.kind.toLowerCase(),
        shortNames: d.shortNames,
        categories: d.categories,
      },
      scope: d.scope ?? 'Namespaced',
      versions: [
        {
          name: d.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: d.columns,
          schema: { openAPIV3Schema: d.schema },
        },
      ],
    },
  };
}

const SERVING = 'serving.knative.dev';
const NETWORKING = 'networking.internal.knative.dev';
const servingCategories = ['all', 'knative', 'serving'];
const internalCategories = ['knative-internal'];
const latestColumns: PrinterColumn[] = [
  { name: 'LatestCreated', type: 'string', jsonPath: '.status.latestCreatedRevisionName' },
  { name: 'LatestReady', type: 'string', jsonPath: '.status.latestReadyRevisionName' },
];
const urlColumn: PrinterColumn = { name: 'URL', type: 'string', jsonPath: '.status.url' };
/** pilotlight's canary analysis (controllers/route/canary.ts): its state, and with -o wide why. */
const canaryColumns: PrinterColumn[] = [
  { name: 'Canary', type: 'string', jsonPath: ".status.conditions[?(@.type=='CanaryReady')].reason" },
  {
    name: 'Canary Message',
    type: 'string',
    jsonPath: ".status.conditions[?(@.type=='CanaryReady')].message",
    priority: 1,
  },
];

/** Every CRD pilotlight installs, with Knative's names, short names and printer columns. */
export function customResourceDefinitions(coreV1: Record<string, OpenApiSchema>): CustomResourceDefinition[] {
  const serving = servingSchemas(coreV1);
  return [
    crd({
      group: SERVING,
      version: 'v1',
      kind: 'Service',
      plural: 'services',
      shortNames: ['kservice', 'ksvc'],
      categories: servingCategories,
      duck: ['addressable', 'podspecable'],
      columns: [urlColumn, ...latestColumns, ...readyColumns, ...canaryColumns],
      schema: serving.service,
    }),
    crd({
      group: SERVING,
      version: 'v1',
      kind: 'Configuration',
      plural: 'configurations',
      shortNames: ['config', 'cfg', 'kcfg'],
      categories: servingCategories,
      duck: ['podspecable'],
      columns: [...latestColumns, ...readyColumns],
      schema: serving.configuration,
    }),
    crd({
      group: SERVING,
      version: 'v1',
      kind: 'Revision',
      plural: 'revisions',
      shortNames: ['rev'],
      categories: servingCategories,
      duck: ['podspecable'],
      columns: [
        { name: 'Config Name', type: 'string', jsonPath: ".metadata.labels['serving\\.knative\\.dev/configuration']" },
        {
          name: 'Generation',
          type: 'string',
          jsonPath: ".metadata.labels['serving\\.knative\\.dev/configurationGeneration']",
          priority: 1,
        },
        ...readyColumns,
        { name: 'Actual Replicas', type: 'integer', jsonPath: '.status.actualReplicas' },
        { name: 'Desired Replicas', type: 'integer', jsonPath: '.status.desiredReplicas' },
      ],
      schema: serving.revision,
    }),
    crd({
      group: SERVING,
      version: 'v1',
      kind: 'Route',
      plural: 'routes',
      shortNames: ['rt'],
      categories: servingCategories,
      duck: ['addressable'],
      columns: [urlColumn, ...readyColumns, ...canaryColumns],
      schema: serving.route,
    }),
    crd({
      group: SERVING,
      version: 'v1beta1',
      kind: 'DomainMapping',
      plural: 'domainmappings',
      shortNames: ['dm'],
      categories: servingCategories,
      duck: [],
      columns: [urlColumn, ...readyColumns],
      schema: domainMappingSchema,
    }),
    crd({
      group: 'autoscaling.internal.knative.dev',
      version: 'v1alpha1',
      kind: 'PodAutoscaler',
      plural: 'podautoscalers',
      shortNames: ['kpa', 'pa'],
      categories: [...internalCategories, 'autoscaling'],
      duck: [],
      columns: [
        { name: 'DesiredScale', type: 'integer', jsonPath: '.status.desiredScale' },
        { name: 'ActualScale', type: 'integer', jsonPath: '.status.actualScale' },
        ...readyColumns,
      ],
      schema: podAutoscalerSchema,
    }),
    crd({
      group: NETWORKING,
      version: 'v1alpha1',
      kind: 'Ingress',
      plural: 'ingresses',
      shortNames: ['kingress', 'king'],
      categories: [...internalCategories, 'networking'],
      duck: [],
      columns: readyColumns,
      schema: ingressSchema,
    }),
    crd({
      group: NETWORKING,
      version: 'v1alpha1',
      kind: 'ServerlessService',
      plural: 'serverlessservices',
      shortNames: ['sks'],
      categories: [...internalCategories, 'networking'],
      duck: [],
      columns: [
        { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
        { name: 'Activators', type: 'integer', jsonPath: '.spec.numActivators' },
        { name: 'ServiceName', type: 'string', jsonPath: '.status.serviceName' },
        { name: 'PrivateServiceName', type: 'string', jsonPath: '.status.privateServiceName' },
        ...readyColumns,
      ],
      schema: serverlessServiceSchema,
    }),
    crd({
      group: NETWORKING,
      version: 'v1alpha1',
      kind: 'Certificate',
      plural: 'certificates',
      shortNames: ['kcert'],
      categories: [...internalCategories, 'networking'],
      duck: [],
      columns: readyColumns,
      schema: certificateSchema,
    }),
    // Upstream gives it no short name; cdc is ours, for kubectl.
    crd({
      group: NETWORKING,
      version: 'v1alpha1',
      kind: 'ClusterDomainClaim',
      plural: 'clusterdomainclaims',
      shortNames: ['cdc'],
      categories: [...internalCategories, 'networking'],
      duck: [],
      columns: [],
      schema: clusterDomainClaimSchema,
      scope: 'Cluster',
    }),
  ];
}

export const crdFileName = (c: CustomResourceDefinition) => `${c.metadata.name}.yaml`;
