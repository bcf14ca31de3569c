import type { FieldMask } from './structural.ts';

// The part of the Kubernetes PodSpec that Knative lets a user write inside a revision template
// (upstream: pkg/apis/serving/fieldmask.go). Fields behind a Knative feature flag
// (`kubernetes.podspec-*`) are accepted by the schema and gated by the admission webhook, so
// that turning a flag on in config-features needs no new CRD.
const core = (name: string) => `io.k8s.api.core.v1.${name}`;

export const knativePodSpecMask: FieldMask = {
  allow: {
    [core('PodSpec')]: [
      'serviceAccountName', 'containers', 'volumes', 'imagePullSecrets', 'enableServiceLinks',
      'automountServiceAccountToken',
      // feature-gated
      'affinity', 'topologySpreadConstraints', 'hostAliases', 'nodeSelector', 'runtimeClassName',
      'tolerations', 'securityContext', 'shareProcessNamespace', 'priorityClassName', 'schedulerName',
      'initContainers', 'dnsPolicy', 'dnsConfig', 'hostIPC', 'hostPID', 'hostNetwork',
    ],
    [core('Container')]: [
      'name', 'args', 'command', 'env', 'workingDir', 'envFrom', 'image', 'imagePullPolicy',
      'livenessProbe', 'ports', 'readinessProbe', 'resources', 'securityContext', 'startupProbe',
      'terminationMessagePath', 'terminationMessagePolicy', 'volumeMounts',
    ],
    [core('Volume')]: [
      'name', 'secret', 'configMap', 'projected',
      // feature-gated
      'emptyDir', 'persistentVolumeClaim', 'hostPath', 'csi', 'ephemeral', 'image',
    ],
    [core('VolumeProjection')]: ['secret', 'configMap', 'serviceAccountToken', 'downwardAPI'],
    [core('ConfigMapProjection')]: ['name', 'items', 'optional'],
    [core('SecretProjection')]: ['name', 'items', 'optional'],
    [core('DownwardAPIVolumeFile')]: ['fieldRef', 'resourceFieldRef', 'path', 'mode'],
    [core('KeyToPath')]: ['key', 'path', 'mode'],
    [core('VolumeMount')]: ['name', 'readOnly', 'mountPath', 'subPath', 'mountPropagation'],
    [core('Probe')]: [
      'exec', 'httpGet', 'tcpSocket', 'grpc', 'initialDelaySeconds', 'timeoutSeconds', 'periodSeconds',
      'successThreshold', 'failureThreshold', 'terminationGracePeriodSeconds',
    ],
    [core('ExecAction')]: ['command'],
    [core('HTTPGetAction')]: ['host', 'path', 'scheme', 'httpHeaders', 'port'],
    [core('TCPSocketAction')]: ['host', 'port'],
    [core('GRPCAction')]: ['port', 'service'],
    [core('ContainerPort')]: ['containerPort', 'name', 'protocol'],
    [core('EnvVar')]: ['name', 'value', 'valueFrom'],
    [core('EnvVarSource')]: ['configMapKeyRef', 'secretKeyRef', 'fieldRef', 'resourceFieldRef'],
    [core('LocalObjectReference')]: ['name'],
    [core('ConfigMapKeySelector')]: ['key', 'optional', 'name'],
    [core('SecretKeySelector')]: ['key', 'optional', 'name'],
    [core('ConfigMapEnvSource')]: ['optional', 'name'],
    [core('SecretEnvSource')]: ['optional', 'name'],
    [core('EnvFromSource')]: ['prefix', 'configMapRef', 'secretRef'],
    [core('ResourceRequirements')]: ['limits', 'requests'],
    [core('PodSecurityContext')]: [
      'runAsUser', 'runAsGroup', 'runAsNonRoot', 'fsGroup', 'supplementalGroups', 'seccompProfile',
    ],
    [core('SecurityContext')]: [
      'capabilities', 'readOnlyRootFilesystem', 'runAsUser', 'runAsGroup', 'runAsNonRoot',
      'allowPrivilegeEscalation', 'seccompProfile', 'privileged',
    ],
    [core('Capabilities')]: ['drop', 'add'],
    [core('ImageVolumeSource')]: ['reference', 'pullPolicy'],
  },
  relaxRequired: {
    // The webhook names unnamed containers (`user-container`) and defaults the port.
    [core('Container')]: ['name'],
    [core('TCPSocketAction')]: ['port'],
    [core('HTTPGetAction')]: ['port'],
    [core('GRPCAction')]: ['port'],
  },
};
