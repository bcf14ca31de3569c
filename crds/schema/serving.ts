// OpenAPI schemas of serving.knative.dev/v1: Service, Configuration, Revision, Route.
// Rules that need no configuration are CEL here, so `kubectl apply` rejects them even without
// the webhook; rules that depend on config-defaults/config-features live in the webhook.
import { DNS1035_LABEL, addressable, array, bool, int64, object, root, rules, str, stringMap } from './common.ts';
import { RESERVED_MOUNT_PATHS } from '../../lib/apis/serving.ts';
import { knativePodSpecMask } from './podSpecMask.ts';
import { StructuralConverter, type FieldMask, type JSONSchemaProps, type OpenApiSchema } from './structural.ts';

/** Ports the queue-proxy sidecar binds in every revision pod (upstream pkg/networking/constants.go). */
export const RESERVED_PORTS = [8008, 8012, 8013, 8022, 9090, 9091] as const;
/** Knative sets these in every container; PORT only in the serving one, so sidecars may use it. */
export const RESERVED_ENV_VARS = ['K_SERVICE', 'K_CONFIGURATION', 'K_REVISION'] as const;
export const QUEUE_PROXY_CONTAINER_NAME = 'queue-proxy';

const celList = (values: readonly (string | number)[]) =>
  `[${values.map((v) => (typeof v === 'number' ? String(v) : `'${v}'`)).join(', ')}]`;

const core = (name: string) => `io.k8s.api.core.v1.${name}`;

const MAX_CONTAINERS = 32;
const MAX_ENV_VARS = 1024;
const MAX_VOLUME_MOUNTS = 256;
const MAX_ENV_NAME_LENGTH = 1024;
const MAX_PATH_LENGTH = 4096;
const MAX_SUPPLEMENTAL_GROUPS = 1024;
/** User and group IDs: the range Knative accepts (0 to MaxInt32). */
const MAX_ID = 2 ** 31 - 1;
const ID_RANGE = { minimum: 0, maximum: MAX_ID };

const servingMask: FieldMask = {
  ...knativePodSpecMask,
  require: { [core('Container')]: ['image'] },
  rules: {
    [core('Container')]: [
      {
        rule: `!has(self.name) || self.name != '${QUEUE_PROXY_CONTAINER_NAME}'`,
        message: `the container name ${QUEUE_PROXY_CONTAINER_NAME} is reserved for the sidecar that Knative adds`,
        fieldPath: '.name',
      },
      { rule: "self.image != ''", message: 'image must not be empty', fieldPath: '.image' },
    ],
    [core('ContainerPort')]: [
      {
        // 0 is what a Go client writes for a port given only a name (`h2c`): the default port.
        rule: 'self.containerPort >= 0 && self.containerPort <= 65535',
        message: 'containerPort must be between 0 and 65535 (0 means the default, 8080)',
        fieldPath: '.containerPort',
      },
      {
        rule: `!(self.containerPort in ${celList(RESERVED_PORTS)})`,
        message: `containerPort may not be one of ${RESERVED_PORTS.join(', ')}: the queue-proxy sidecar binds them`,
        fieldPath: '.containerPort',
      },
      {
        rule: "!has(self.name) || self.name in ['', 'h2c', 'http1']",
        message: 'port name must be empty, "h2c" or "http1"',
        fieldPath: '.name',
      },
      {
        rule: "!has(self.protocol) || self.protocol == 'TCP'",
        message: 'protocol must be TCP',
        fieldPath: '.protocol',
      },
    ],
    [core('EnvVar')]: [
      {
        rule: `!(self.name in ${celList(RESERVED_ENV_VARS)})`,
        message: `${RESERVED_ENV_VARS.join(', ')} are reserved environment variables that Knative sets`,
        fieldPath: '.name',
      },
    ],
    [core('EnvFromSource')]: [
      {
        rule: 'has(self.configMapRef) != has(self.secretRef)',
        message: 'exactly one of configMapRef or secretRef must be set',
      },
    ],
    [core('VolumeMount')]: [
      {
        rule: "self.mountPath.startsWith('/')",
        message: 'mountPath must be an absolute path',
        fieldPath: '.mountPath',
      },
      {
        rule: `!(self.mountPath in ${celList(RESERVED_MOUNT_PATHS)})`,
        message: `mountPath may not be one of ${RESERVED_MOUNT_PATHS.join(', ')}`,
        fieldPath: '.mountPath',
      },
    ],
  },
  fieldRules: {
    // A revision serves on exactly one port. The bounds below also keep the estimated cost of the
    // CEL rules on nested lists within the API server's budget.
    [`${core('Container')}.ports`]: { maxItems: 1 },
    [`${core('Container')}.env`]: { maxItems: MAX_ENV_VARS },
    [`${core('Container')}.volumeMounts`]: { maxItems: MAX_VOLUME_MOUNTS },
    [`${core('EnvVar')}.name`]: { maxLength: MAX_ENV_NAME_LENGTH },
    [`${core('VolumeMount')}.mountPath`]: { maxLength: MAX_PATH_LENGTH },
    [`${core('PodSpec')}.initContainers`]: { maxItems: MAX_CONTAINERS },
    [`${core('SecurityContext')}.runAsUser`]: ID_RANGE,
    [`${core('SecurityContext')}.runAsGroup`]: ID_RANGE,
    [`${core('PodSecurityContext')}.runAsUser`]: ID_RANGE,
    [`${core('PodSecurityContext')}.runAsGroup`]: ID_RANGE,
    [`${core('PodSecurityContext')}.fsGroup`]: ID_RANGE,
    [`${core('PodSecurityContext')}.supplementalGroups`]: {
      maxItems: MAX_SUPPLEMENTAL_GROUPS,
      ...rules({
        rule: `self.all(g, g >= 0 && g <= ${MAX_ID})`,
        message: `every group ID must be between 0 and ${MAX_ID}`,
      }),
    },
    [`${core('PodSpec')}.containers`]: {
      minItems: 1,
      maxItems: MAX_CONTAINERS,
      ...rules(
        {
          rule: 'size(self) == 1 || self.filter(c, has(c.ports) && size(c.ports) > 0).size() == 1',
          message:
            'when a revision has more than one container, exactly one of them must set a port (the serving container)',
        },
        {
          rule: "self.all(c, !(size(self) == 1 || (has(c.ports) && size(c.ports) > 0)) || !has(c.env) || !c.env.exists(e, e.name == 'PORT'))",
          message:
            'PORT is a reserved environment variable in the serving container: Knative sets it to the container port',
        },
      ),
    },
  },
};

function revisionSpec(converter: StructuralConverter): JSONSchemaProps {
  const podSpec = converter.definition(core('PodSpec'));
  podSpec.description =
    "RevisionSpec holds the desired state of the Revision: the pod's containers and volumes, and how requests reach them.";
  podSpec.properties = {
    ...podSpec.properties,
    containerConcurrency: int64(
      'The maximum number of concurrent requests one container of this revision serves at a time; 0 means unlimited.',
      { minimum: 0 },
    ),
    timeoutSeconds: int64('The maximum duration in seconds that a request may take to be answered.', { minimum: 0 }),
    responseStartTimeoutSeconds: int64(
      'The maximum duration in seconds that a request may wait for the first byte of its response.',
      { minimum: 0 },
    ),
    idleTimeoutSeconds: int64(
      'The maximum duration in seconds that a request may stay open without any byte sent or received.',
      { minimum: 0 },
    ),
  };
  podSpec.required = ['containers'];
  return podSpec;
}

function revisionTemplate(converter: StructuralConverter): JSONSchemaProps {
  return object(
    {
      metadata: object({
        name: str('A name for the revision; it must start with the name of its Configuration or Service and a dash.', {
          pattern: DNS1035_LABEL,
          maxLength: 63,
        }),
        labels: stringMap(),
        annotations: stringMap(),
        // Go tooling writes an empty ObjectMeta as `creationTimestamp: null`. Declared, the null is
        // dropped by the API server; undeclared, strict field validation (kubectl) refuses it.
        creationTimestamp: str('Ignored: a revision gets its own creation time.', { format: 'date-time' }),
      }),
      spec: revisionSpec(converter),
    },
    { description: 'The specification of the revisions that changes of this template stamp out.' },
  );
}

const hasText = (field: string) => `(has(self.${field}) && self.${field} != '')`;

function trafficTarget(kind: 'service' | 'route'): JSONSchemaProps {
  const targetRules = [
    {
      rule: `!(${hasText('revisionName')} && ${hasText('configurationName')})`,
      message: 'revisionName and configurationName are mutually exclusive: set one of them',
    },
    {
      rule: `!has(self.latestRevision) || self.latestRevision == !${hasText('revisionName')}`,
      messageExpression:
        "self.latestRevision ? 'latestRevision may only be true when revisionName is not set' : 'latestRevision may only be false when revisionName is set'",
      fieldPath: '.latestRevision',
    },
    { rule: '!has(self.url)', message: 'url may not be set in spec; it is filled in status', fieldPath: '.url' },
  ];
  if (kind === 'service') {
    targetRules.push({
      rule: `!${hasText('configurationName')}`,
      message: 'configurationName may not be set in a Service: its traffic always refers to its own Configuration',
      fieldPath: '.configurationName',
    });
  } else {
    targetRules.push({
      rule: `${hasText('revisionName')} || ${hasText('configurationName')}`,
      message: 'one of revisionName or configurationName must be set',
    });
  }
  return object(
    {
      tag: str('A name for this target that gives it its own URL.', { pattern: DNS1035_LABEL, maxLength: 63 }),
      revisionName: str('The Revision that receives this share of traffic.'),
      configurationName: str('The Configuration whose latest ready Revision receives this share of traffic.'),
      latestRevision: bool(
        'Whether the target follows the latest ready Revision; true exactly when revisionName is unset.',
      ),
      percent: int64('The share of traffic, in percent, sent to this target.', { minimum: 0, maximum: 100 }),
      url: str('The URL of this target when it has a tag (status only).'),
    },
    rules(...targetRules),
  );
}

const MAX_TRAFFIC_TARGETS = 100;

function trafficSpec(kind: 'service' | 'route'): JSONSchemaProps {
  return array(trafficTarget(kind), {
    description: 'How traffic is split across revisions; the percents add up to 100.',
    maxItems: MAX_TRAFFIC_TARGETS,
    ...rules(
      {
        rule: 'self.map(t, has(t.percent) ? t.percent : 0).sum() == 100',
        message: 'the percents of all traffic targets must add up to 100',
      },
      {
        rule: 'self.all(a, !has(a.tag) || self.exists_one(b, has(b.tag) && b.tag == a.tag))',
        message: 'tags must be unique across traffic targets',
      },
    ),
  });
}

const trafficStatus = array(
  object({
    tag: str(),
    revisionName: str(),
    configurationName: str(),
    latestRevision: bool(),
    percent: int64(),
    url: str(),
  }),
);

const routeStatusFields: Record<string, JSONSchemaProps> = {
  url: str('The URL at which the route answers.'),
  address: addressable,
  traffic: trafficStatus,
};

const configurationStatusFields: Record<string, JSONSchemaProps> = {
  latestCreatedRevisionName: str('The last Revision stamped out from this Configuration.'),
  latestReadyRevisionName: str('The latest Revision that became ready.'),
};

const BYO_NAME_RULE = {
  rule: "!has(self.spec.template.metadata) || !has(self.spec.template.metadata.name) || self.spec.template.metadata.name.startsWith(self.metadata.name + '-')",
  messageExpression: "'revision name must start with \"' + self.metadata.name + '-\"'",
  fieldPath: '.spec.template.metadata.name',
};

export interface ServingSchemas {
  service: JSONSchemaProps;
  configuration: JSONSchemaProps;
  revision: JSONSchemaProps;
  route: JSONSchemaProps;
}

export function servingSchemas(coreV1: Record<string, OpenApiSchema>): ServingSchemas {
  const converter = new StructuralConverter(coreV1, servingMask);
  const service = root(
    'Service manages a Configuration and a Route of the same name: every change of its template stamps out a Revision, and its traffic block splits requests across revisions.',
    object({ template: revisionTemplate(converter), traffic: trafficSpec('service') }, { required: ['template'] }),
    { ...configurationStatusFields, ...routeStatusFields },
    rules(BYO_NAME_RULE),
  );
  const configuration = root(
    'Configuration holds the template of a workload; each change of the template stamps out an immutable Revision.',
    object({ template: revisionTemplate(converter) }, { required: ['template'] }),
    configurationStatusFields,
    rules(BYO_NAME_RULE),
  );
  const revisionSpecSchema = revisionSpec(converter);
  revisionSpecSchema['x-kubernetes-validations'] = [
    { rule: 'self == oldSelf', message: 'a Revision is immutable: its spec cannot change after creation' },
  ];
  const revision = root(
    'Revision is an immutable snapshot of code and configuration, stamped out by a Configuration.',
    revisionSpecSchema,
    {
      logUrl: str(),
      imageDigest: str(),
      containerStatuses: array(object({ name: str(), imageDigest: str() })),
      initContainerStatuses: array(object({ name: str(), imageDigest: str() })),
      actualReplicas: { type: 'integer', format: 'int32' },
      desiredReplicas: { type: 'integer', format: 'int32' },
    },
  );
  const route = root(
    'Route sends the traffic of one network address to revisions, split by percent, with a URL per tag.',
    object({ traffic: trafficSpec('route') }, { required: ['traffic'] }),
    routeStatusFields,
  );
  return { service, configuration, revision, route };
}
