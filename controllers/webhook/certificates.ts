// The webhook's CA and serving certificate, kept in a Secret so every replica and every restart
// serves with the CA that the webhook configurations carry.
import type { V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import type { KubeRest } from '../../lib/kube/rest.ts';
import {
  certificateNotAfter,
  createCertificateAuthority,
  loadCertificateAuthority,
  type KeyPairPem,
} from '../../lib/pki.ts';
import { isNotFound, isConflict } from '../../lib/kube/errors.ts';

export const WEBHOOK_CERTS_SECRET = 'webhook-certs';
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

export interface WebhookCertificates {
  caCertificate: string;
  serving: KeyPairPem;
}

interface Request {
  namespace: string;
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * The metadata to write over a stored object: ours, with the stored resourceVersion and the
 * labels and annotations others put there (the Helm release that owns the Secret and the webhook
 * configurations among them), so a replace drops nothing that is not ours.
 */
export function keepingOthersMetadata(stored: V1ObjectMeta | undefined, ours: V1ObjectMeta): V1ObjectMeta {
  if (!stored) return ours;
  return {
    ...ours,
    labels: { ...stored.labels, ...ours.labels },
    annotations: { ...stored.annotations, ...ours.annotations },
    ...(stored.resourceVersion ? { resourceVersion: stored.resourceVersion } : {}),
  };
}

const decode = (data: Record<string, string> | undefined, key: string) =>
  data?.[key] ? Buffer.from(data[key], 'base64').toString('utf8') : undefined;

const covers = (secret: V1Secret, request: Request) => {
  const names = decode(secret.data, 'names');
  return names === [...request.dnsNames, ...request.ipAddresses].join(',');
};

export async function ensureWebhookCertificates(client: KubeRest, request: Request): Promise<WebhookCertificates> {
  const secrets = `/api/v1/namespaces/${request.namespace}/secrets`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let existing: V1Secret | undefined;
    try {
      existing = await client.request<V1Secret>('GET', `${secrets}/${WEBHOOK_CERTS_SECRET}`);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const caCert = decode(existing?.data, 'ca-cert.pem');
    const caKey = decode(existing?.data, 'ca-key.pem');
    const cert = decode(existing?.data, 'server-cert.pem');
    const key = decode(existing?.data, 'server-key.pem');
    if (
      existing &&
      caCert &&
      caKey &&
      cert &&
      key &&
      covers(existing, request) &&
      certificateNotAfter(cert).getTime() - Date.now() > RENEW_BEFORE_MS
    ) {
      return { caCertificate: caCert, serving: { certificate: cert, privateKey: key } };
    }
    const ca =
      caCert && caKey && certificateNotAfter(caCert).getTime() - Date.now() > RENEW_BEFORE_MS
        ? await loadCertificateAuthority({ certificate: caCert, privateKey: caKey })
        : await createCertificateAuthority('pilotlight-webhook-ca');
    const serving = await ca.issue({
      commonName: request.dnsNames[0] ?? 'webhook',
      dnsNames: request.dnsNames,
      ipAddresses: request.ipAddresses,
      usage: 'server',
    });
    const data = {
      'ca-cert.pem': ca.certificate,
      'ca-key.pem': ca.privateKey,
      'server-cert.pem': serving.certificate,
      'server-key.pem': serving.privateKey,
      names: [...request.dnsNames, ...request.ipAddresses].join(','),
    };
    const body: V1Secret = {
      metadata: keepingOthersMetadata(existing?.metadata, { name: WEBHOOK_CERTS_SECRET, namespace: request.namespace }),
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    };
    try {
      if (existing) await client.request('PUT', `${secrets}/${WEBHOOK_CERTS_SECRET}`, { body });
      else await client.request('POST', secrets, { body });
      return { caCertificate: ca.certificate, serving };
    } catch (error) {
      // Another replica wrote the Secret first: read theirs.
      if (!isConflict(error)) throw error;
    }
  }
  throw new Error(`could not settle Secret ${request.namespace}/${WEBHOOK_CERTS_SECRET} after 5 attempts`);
}
