// Starts the admission webhook: certificates, configuration watch, HTTPS server, registration.
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Server } from 'node:https';
import { isNotFound } from '../../lib/kube/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { ensureWebhookCertificates } from './certificates.ts';
import { watchWebhookConfig } from './configWatcher.ts';
import { makeWebhookConfigurations, type WebhookEndpoint } from './registration.ts';
import { startWebhookServer } from './server.ts';

export interface WebhookOptions {
  systemNamespace: string;
  host: string;
  port: number;
  /** How the API server reaches us: a URL when we run outside the cluster, else our Service. */
  endpoint: WebhookEndpoint;
}

export async function runWebhook(kc: KubeConfig, options: WebhookOptions, log: Logger): Promise<Server> {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const names = 'url' in options.endpoint
    ? { dnsNames: [new URL(options.endpoint.url).hostname, 'localhost'].filter((h) => !/^[\d.]+$/.test(h)), ipAddresses: ['127.0.0.1'] }
    : {
      dnsNames: [
        `${options.endpoint.service.name}.${options.endpoint.service.namespace}.svc`,
        `${options.endpoint.service.name}.${options.endpoint.service.namespace}.svc.cluster.local`,
      ],
      ipAddresses: [],
    };
  const certificates = await ensureWebhookCertificates(core, { namespace: options.systemNamespace, ...names });
  const config = await watchWebhookConfig(kc, options.systemNamespace, log);
  const server = await startWebhookServer({ host: options.host, port: options.port, tls: certificates.serving, config, log });
  log.info('webhook listening', { host: options.host, port: options.port });

  const { mutating, validating } = makeWebhookConfigurations(options.endpoint, certificates.caCertificate);
  const name = mutating.metadata!.name!;
  try {
    const existing = await admission.readMutatingWebhookConfiguration({ name });
    await admission.replaceMutatingWebhookConfiguration({ name, body: { ...mutating, metadata: { ...mutating.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await admission.createMutatingWebhookConfiguration({ body: mutating });
  }
  const validatingName = validating.metadata!.name!;
  try {
    const existing = await admission.readValidatingWebhookConfiguration({ name: validatingName });
    await admission.replaceValidatingWebhookConfiguration({ name: validatingName, body: { ...validating, metadata: { ...validating.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await admission.createValidatingWebhookConfiguration({ body: validating });
  }
  log.info('webhook registered', { mutating: name, validating: validatingName });
  return server;
}
