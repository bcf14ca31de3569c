// Secrets of type kubernetes.io/tls: a PEM certificate and its key under tls.crt and tls.key
// (ca.crt, when present, is the issuing CA), base64 on the wire.
import type { V1Secret } from '@kubernetes/client-node';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

export interface TlsSecretText {
  certificate?: string;
  privateKey?: string;
  caCertificate?: string;
}

const decode = (value: string | undefined) =>
  value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');

export function readTlsSecret(secret: V1Secret | undefined): TlsSecretText {
  const data = secret?.data;
  return {
    certificate: decode(data?.['tls.crt']),
    privateKey: decode(data?.['tls.key']),
    caCertificate: decode(data?.['ca.crt']),
  };
}

/** The `data` of a kubernetes.io/tls Secret; ca.crt only when given. */
export function tlsSecretData(text: TlsSecretText): Record<string, string> {
  const encode = (value: string) => Buffer.from(value).toString('base64');
  return Object.fromEntries(
    [
      ['tls.crt', text.certificate],
      ['tls.key', text.privateKey],
      ['ca.crt', text.caCertificate],
    ].flatMap(([key, value]) => (value === undefined ? [] : [[key, encode(value)]])),
  );
}
