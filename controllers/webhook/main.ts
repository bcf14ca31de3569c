// Starts the admission webhook: certificates, configuration watch, HTTPS server, registration.
import type { Server } from 'node:https';
import type { KubernetesObject } from '@kubernetes/client-node';
import { isNotFound } from '../../lib/kube/errors.ts';
import type { InformerFactory } from '../../lib/kube/informerFactory.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Logger } from '../../lib/log.ts';
import { ensureWebhookCertificates, keepingOthersMetadata } from './certificates.ts';
import { watchWebhookConfig } from './configWatcher.ts';
import { makeWebhookConfigurations, type WebhookEndpoint } from './registration.ts';
import { startWebhookServer } from './server.ts';

export interface WebhookOptions {
  systemNamespace: string;
  /** The process's started factory, whose ConfigMap informer the reconcilers share. */
  informers: InformerFactory;
  host: string;
  port: number;
  /** How the API server reaches us: a URL when we run outside the cluster, else our Service. */
  endpoint: WebhookEndpoint;
  /** What /readyz reports. */
  ready: () => boolean;
}

const ADMISSION = '/apis/admissionregistration.k8s.io/v1';

/**
 * Creates the object at collection/name, or replaces it keeping the stored resourceVersion and
 * the labels and annotations others put there (the chart's release ownership among them).
 */
async function createOrReplace(client: KubeRest, collection: string, object: KubernetesObject): Promise<void> {
  const path = `${collection}/${object.metadata?.name}`;
  try {
    const existing = await client.request<KubernetesObject>('GET', path);
    await client.request('PUT', path, {
      body: { ...object, metadata: keepingOthersMetadata(existing.metadata, object.metadata ?? {}) },
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await client.request('POST', collection, { body: object });
  }
}

export async function runWebhook(client: KubeRest, options: WebhookOptions, log: Logger): Promise<Server> {
  const names =
    'url' in options.endpoint
      ? {
          dnsNames: [new URL(options.endpoint.url).hostname, 'localhost'].filter((h) => !/^[\d.]+$/.test(h)),
          ipAddresses: ['127.0.0.1'],
        }
      : {
          dnsNames: [
            `${options.endpoint.service.name}.${options.endpoint.service.namespace}.svc`,
            `${options.endpoint.service.name}.${options.endpoint.service.namespace}.svc.cluster.local`,
          ],
          ipAddresses: [],
        };
  const certificates = await ensureWebhookCertificates(client, { namespace: options.systemNamespace, ...names });
  const config = await watchWebhookConfig(options.informers, options.systemNamespace, log);
  const server = await startWebhookServer({
    host: options.host,
    port: options.port,
    tls: certificates.serving,
    config,
    ready: options.ready,
    log,
  });
  log.info('webhook listening', { host: options.host, port: options.port });

  const { mutating, validating, configValidating } = makeWebhookConfigurations(
    options.endpoint,
    certificates.caCertificate,
    options.systemNamespace,
  );
  await createOrReplace(client, `${ADMISSION}/mutatingwebhookconfigurations`, mutating);
  await createOrReplace(client, `${ADMISSION}/validatingwebhookconfigurations`, validating);
  await createOrReplace(client, `${ADMISSION}/validatingwebhookconfigurations`, configValidating);
  log.info('webhook registered', {
    mutating: mutating.metadata?.name,
    validating: [validating.metadata?.name, configValidating.metadata?.name],
  });
  return server;
}
