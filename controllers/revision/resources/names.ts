// Names of a revision's children; builders, reconcilers and tests all ask here.
import { childName } from '../../../lib/apis/kmeta.ts';

export const deploymentName = (revision: string) => childName(revision, '-deployment');
export const podAutoscalerName = (revision: string) => revision;
/** The reserved instance's Deployment and the Service that selects its pod share this name. */
export const reservedName = (revision: string) => childName(revision, '-reserved');
