// The Service that selects a revision's reserved pod. The endpoints controller copies its labels
// onto its Endpoints, where the activator finds the pod and how many requests it takes. Pure.
import type { V1Service } from '@kubernetes/client-node';
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import { servingContainerOf, servingProtocol } from '../../../lib/apis/revision.ts';
import { Labels, type Revision, type RevisionSpec } from '../../../lib/apis/serving.ts';
import { RESERVED_SERVICE_TYPE, ReservedInstanceLabels } from '../../../lib/config/reservedInstance.ts';
import { podServicePorts } from '../../../lib/apis/networking.ts';
import { reservedName } from './names.ts';
import { reservedSelector } from './reservedDeployment.ts';

export function makeReservedService(rev: Revision, containerConcurrency: number): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: reservedName(rev.metadata?.name ?? ''),
      namespace: rev.metadata?.namespace,
      labels: {
        [Labels.serviceType]: RESERVED_SERVICE_TYPE,
        [Labels.revision]: rev.metadata?.name ?? '',
        [ReservedInstanceLabels.containerConcurrency]: String(containerConcurrency),
      },
      ownerReferences: [controllerReference(rev)],
    },
    spec: {
      ports: podServicePorts(servingProtocol(servingContainerOf(rev.spec as RevisionSpec))),
      selector: reservedSelector(rev),
    },
  };
}
