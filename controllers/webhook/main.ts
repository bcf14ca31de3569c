// Starts the admission webhook: certificates, configuration watch, HTTPS server, registration.
import type { Server } from 'node:https';
import { isNotFound } from '../../lib/kube/errors.ts';
import type { InformerFactory } from '../../lib/kube/informerFactory.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Logger } from '../../lib/log.ts';
import { ensureWebhookCertificates } from './certificates.ts';
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
}

const ADMISSION = '/apis/admissionregistration.k8s.io/v1';

/** Creates the object at collection/name, or replaces it keeping the stored resourceVersion. */
async function createOrReplace(
  client: KubeRest,
  collection: string,
  object: { metadata?: { name?: string } },
): Promise<void> {
  const path = `${collection}/${object.metadata?.name}`;
  try {
    const existing = await client.request<{ metadata?: { resourceVersion?: string } }>('GET', path);
    await client.request('PUT', path, {
      body: { ...object, metadata: { ...object.metadata, resourceVersion: existing.metadata?.resourceVersion } },
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
    log,
  });
  log.info('webhook listening', { host: options.host, port: options.port });

  const { mutating, validating } = makeWebhookConfigurations(options.endpoint, certificates.caCertificate);
  await createOrReplace(client, `${ADMISSION}/mutatingwebhookconfigurations`, mutating);
  await createOrReplace(client, `${ADMISSION}/validatingwebhookconfigurations`, validating);
  log.info('webhook registered', { mutating: mutating.metadata?.name, validating: validating.metadata?.name });
  return server;
}
