// Small certificate authority for the local control plane, the admission webhook and pilotlight's
// certificate class: ECDSA P-256 keys, PEM output, nothing but Node's crypto underneath.
import { createPrivateKey, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface KeyPairPem {
  certificate: string;
  privateKey: string;
}

export interface CertificateAuthority extends KeyPairPem {
  issue(request: LeafRequest): Promise<KeyPairPem>;
}

export interface LeafRequest {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client';
  validDays?: number;
}

function toPem(der: ArrayBuffer, label: string): string {
  const base64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): ArrayBuffer {
  const base64 = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  const bytes = Buffer.from(base64, 'base64');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

const serial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');

const validity = (days: number) => {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS) };
};

function subject(commonName: string, organizations: string[] = []): string {
  const escapeRdn = (v: string) => v.replace(/([,+"\\<>;=])/g, '\\$1');
  return [`CN=${escapeRdn(commonName)}`, ...organizations.map((o) => `O=${escapeRdn(o)}`)].join(', ');
}

function authority(
  certificate: x509.X509Certificate,
  keys: CryptoKeyPair,
  certificatePem: string,
  privateKeyPem: string,
): CertificateAuthority {
  return {
    certificate: certificatePem,
    privateKey: privateKeyPem,
    async issue(request) {
      const leafKeys = await generateKeys();
      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension(
          [request.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
      ];
      const names = [
        ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
        ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
      ];
      if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: subject(request.commonName, request.organizations),
        issuer: certificate.subject,
        ...validity(request.validDays ?? 365),
        signingAlgorithm: ALGORITHM,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        extensions,
      });
      return { certificate: `${leaf.toString('pem')}\n`, privateKey: await exportPrivateKey(leafKeys.privateKey) };
    },
  };
}

export async function createCertificateAuthority(commonName: string, validDays = 3650): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subject(commonName),
    ...validity(validDays),
    signingAlgorithm: ALGORITHM,
    keys: keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
    ],
  });
  return authority(certificate, keys, `${certificate.toString('pem')}\n`, await exportPrivateKey(keys.privateKey));
}

/** Reopens a CA from its PEM files, e.g. one kept in a Secret across restarts. */
export async function loadCertificateAuthority(pair: KeyPairPem): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(pair.certificate);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', fromPem(pair.privateKey), ALGORITHM, true, ['sign']);
  const publicKey = await certificate.publicKey.export(ALGORITHM, ['verify'], webcrypto);
  return authority(certificate, { privateKey, publicKey }, pair.certificate, pair.privateKey);
}

/** When the certificate stops being valid. */
export function certificateNotAfter(pem: string): Date {
  return new x509.X509Certificate(pem).notAfter;
}

/** A bare key pair, PEM encoded: the service-account token signer of the API server. */
export async function createSigningKey(): Promise<{ privateKey: string; publicKey: string }> {
  const keys = await generateKeys();
  return {
    privateKey: await exportPrivateKey(keys.privateKey),
    publicKey: toPem(await webcrypto.subtle.exportKey('spki', keys.publicKey), 'PUBLIC KEY'),
  };
}

/** What a served certificate says about itself, for deciding whether it still does its job. */
export interface LeafFacts {
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  /** Signed by the given CA's key. */
  signedByCa: boolean;
  /** The private key is the one the certificate was issued for. */
  keyMatches: boolean;
}

/** Reads a PEM pair; throws when either part does not parse. */
export function inspectLeaf(pair: KeyPairPem, caCertificate: string): LeafFacts {
  const leaf = new NodeX509Certificate(pair.certificate);
  const ca = new NodeX509Certificate(caCertificate);
  const dnsNames = (leaf.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length));
  return {
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    dnsNames,
    signedByCa: leaf.checkIssued(ca) && leaf.verify(ca.publicKey),
    keyMatches: leaf.checkPrivateKey(createPrivateKey(pair.privateKey)),
  };
}
