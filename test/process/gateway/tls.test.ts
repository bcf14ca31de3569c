// TLS termination through a real gateway process: the certificate by SNI, HTTP/1.1 and HTTP/2 by
// ALPN, ClusterLocal hosts on the internal TLS listener, the 301 of a Redirected Ingress,
// certificate rotation without dropping connections, and broken, misnamed or expired certificates
// that leave every other host served.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest, Agent, type AgentOptions } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority } from '../../../lib/pki.ts';
import { startSampleApp, waitForLine, type SampleApp } from '../../../harness/processes.ts';
import {
  get,
  ingress,
  revisionOf,
  split,
  startGateway,
  tableSwaps,
  type Echo,
  type GatewayProc,
  type RoutesFile,
} from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;
const SECURE = 'secure.default.example.com';
const REDIRECTED = 'redirected.default.example.com';
const PLAIN = 'plain.default.example.com';
const LOCAL = 'local.default.svc.cluster.local';
/** The names the Route's cluster-local Certificate covers, as the routing table expands LOCAL. */
const LOCAL_NAMES = ['local.default', 'local.default.svc', LOCAL];
const MISNAMED = 'misnamed.default.example.com';
const EXPIRED = 'expired.default.example.com';

interface Answer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
  alpn: string | false | null;
  serial: string;
}

/** Opens a TLS connection and resolves once the handshake is done (or rejects when it fails). */
function handshake(port: number, servername: string, ca: string, alpn = ['http/1.1']): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: alpn }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** An HTTP/1.1 request over TLS through `agent` (keep-alive), with the certificate the server showed. */
function httpsGet(agent: Agent, port: number, host: string, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ agent, host: '127.0.0.1', port, servername: host, path, headers: { host } }, (res) => {
      const socket = res.socket as TLSSocket;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text,
          headers: res.headers,
          alpn: socket.alpnProtocol,
          serial: socket.getPeerCertificate().serialNumber,
        }),
      );
    });
    req.once('error', reject);
    req.end();
  });
}

function h2Get(port: number, host: string, ca: string): Promise<Answer> {
  const session = http2Connect(`https://127.0.0.1:${port}`, { servername: host, ca });
  return new Promise((resolve, reject) => {
    session.once('error', reject);
    const stream = session.request({ ':path': '/', ':authority': host });
    let status = 0;
    let text = '';
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('end', () => {
      const socket = session.socket as TLSSocket;
      const answer = {
        status,
        text,
        headers: {},
        alpn: session.alpnProtocol ?? null,
        serial: socket.getPeerCertificate().serialNumber,
      };
      session.close();
      resolve(answer);
    });
    stream.on('error', reject);
    stream.end();
  });
}

/** An agent that offers http/1.1 by ALPN, as a browser without HTTP/2 would. */
const httpsAgent = (options: AgentOptions) => new Agent({ ...options, ALPNProtocols: ['http/1.1'] });

/** Writes a file as a Secret update would land: whole, by rename. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

describe('gateway TLS', () => {
  let app: SampleApp;
  let gateway: GatewayProc;
  let ca: CertificateAuthority;
  let dir: string;
  let plain: Pool;
  let routes: (secureVersion: number) => RoutesFile;
  const certFile = (host: string, kind: 'crt' | 'key', version = 1) => join(dir, `${host}.${version}.${kind}`);

  /**
   * A new key and certificate for `host` (naming `dnsNames`) in files of their own, so no reload
   * sees half of a pair. pki's certificates start an hour back: under 1/24 of a day is expired.
   */
  async function issue(host: string, version = 1, dnsNames = [host], validDays = 1): Promise<string> {
    const pair = await ca.issue({ commonName: host, dnsNames, usage: 'server', validDays });
    writeAtomically(certFile(host, 'key', version), pair.privateKey);
    writeAtomically(certFile(host, 'crt', version), pair.certificate);
    return serialOf(pair.certificate);
  }

  let serials: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pilotlight-gateway-tls-'));
    ca = await createCertificateAuthority('gateway TLS test CA', 1);
    serials = {
      [SECURE]: await issue(SECURE),
      [REDIRECTED]: await issue(REDIRECTED),
      [LOCAL]: await issue(LOCAL, 1, LOCAL_NAMES),
    };
    await issue(MISNAMED, 1, ['someone-else.example.com']);
    await issue(EXPIRED, 1, [EXPIRED], 1 / 48);
    app = await startSampleApp();
    const withTls = (
      name: string,
      host: string,
      options: { httpOption?: 'Redirected'; visibility?: 'ClusterLocal'; tlsHosts?: string[] } = {},
    ) => {
      const rule = {
        hosts: [host],
        visibility: options.visibility,
        paths: [{ splits: [split(`${name}-00001`, 100)] }],
      };
      const base = ingress(name, [rule]) as { spec: object };
      return {
        ...base,
        spec: {
          ...base.spec,
          tls: [{ hosts: options.tlsHosts ?? [host], secretName: `${name}-tls`, secretNamespace: 'default' }],
          ...(options.httpOption ? { httpOption: options.httpOption } : {}),
        },
      };
    };
    const tlsSecret = (name: string, host: string, version = 1) => ({
      namespace: 'default',
      name: `${name}-tls`,
      certFile: certFile(host, 'crt', version),
      keyFile: certFile(host, 'key', version),
    });
    const address = `127.0.0.1:${app.port}`;
    routes = (secureVersion) => ({
      ingresses: [
        withTls('secure', SECURE),
        withTls('redirected', REDIRECTED, { httpOption: 'Redirected' }),
        ingress('plain', [{ hosts: [PLAIN], paths: [{ splits: [split('plain-00001', 100)] }] }]),
        withTls('local', LOCAL, { visibility: 'ClusterLocal', tlsHosts: LOCAL_NAMES }),
        withTls('misnamed', MISNAMED),
        withTls('expired', EXPIRED),
      ],
      backends: ['secure', 'redirected', 'plain', 'local', 'misnamed', 'expired'].map((name) => ({
        name: `${name}-00001`,
        addresses: [address],
      })),
      secrets: [
        tlsSecret('secure', SECURE, secureVersion),
        tlsSecret('redirected', REDIRECTED),
        tlsSecret('local', LOCAL),
        tlsSecret('misnamed', MISNAMED),
        tlsSecret('expired', EXPIRED),
      ],
    });
    gateway = await startGateway(routes(1));
    plain = new Pool(`http://127.0.0.1:${gateway.externalPort}`);
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await plain?.close();
    await gateway?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, HOOK_TIMEOUT_MS);

  it('shows each host its own certificate, chosen by SNI', async () => {
    for (const host of [SECURE, REDIRECTED]) {
      const socket = await handshake(gateway.externalTlsPort, host, ca.certificate);
      expect(socket.getPeerCertificate().subjectaltname).toBe(`DNS:${host}`);
      expect(socket.getPeerCertificate().serialNumber).toBe(serials[host]);
      socket.destroy();
    }
  });

  it('serves HTTP/1.1 and HTTP/2 by ALPN through the same routes, telling the app it was https', async () => {
    const agent = httpsAgent({ ca: ca.certificate, keepAlive: true });
    const h1 = await httpsGet(agent, gateway.externalTlsPort, SECURE, '/path?q=1');
    agent.destroy();
    expect(h1).toMatchObject({ status: 200, alpn: 'http/1.1' });
    const echo = JSON.parse(h1.text) as Echo;
    expect(echo.path).toBe('/path?q=1');
    expect(echo.headers).toMatchObject({ 'knative-serving-revision': 'secure-00001', 'x-forwarded-proto': 'https' });
    const h2 = await h2Get(gateway.externalTlsPort, SECURE, ca.certificate);
    expect(h2).toMatchObject({ status: 200, alpn: 'h2' });
    expect(revisionOf(h2.text)).toBe('secure-00001');
  });

  it('fails the handshake for a name without a certificate, and keeps serving the others', async () => {
    await expect(handshake(gateway.externalTlsPort, PLAIN, ca.certificate)).rejects.toThrow(/alert handshake failure/);
    await expect(handshake(gateway.externalTlsPort, 'nobody.example.com', ca.certificate)).rejects.toThrow(
      /alert handshake failure/,
    );
    const agent = httpsAgent({ ca: ca.certificate });
    expect((await httpsGet(agent, gateway.externalTlsPort, SECURE)).status).toBe(200);
    agent.destroy();
  });

  it('serves ClusterLocal hosts of spec.tls on the internal TLS listener only, under each of their names', async () => {
    for (const name of LOCAL_NAMES) {
      const agent = httpsAgent({ ca: ca.certificate });
      const answer = await httpsGet(agent, gateway.internalTlsPort, name);
      agent.destroy();
      expect(answer).toMatchObject({ status: 200, serial: serials[LOCAL] });
      expect(revisionOf(answer.text)).toBe('local-00001');
    }
    const h2 = await h2Get(gateway.internalTlsPort, LOCAL, ca.certificate);
    expect(h2).toMatchObject({ status: 200, alpn: 'h2' });
    // Each TLS listener has its own side's hosts: no cluster-local name outside, no public name inside.
    await expect(handshake(gateway.externalTlsPort, LOCAL, ca.certificate)).rejects.toThrow(/alert handshake failure/);
    await expect(handshake(gateway.internalTlsPort, SECURE, ca.certificate)).rejects.toThrow(/alert handshake failure/);
  });

  it('gives no TLS to a host its certificate does not name or that has expired, says which, and serves the others', async () => {
    for (const host of [MISNAMED, EXPIRED])
      await expect(handshake(gateway.externalTlsPort, host, ca.certificate)).rejects.toThrow(/alert handshake failure/);
    const reasons = gateway.lines
      .filter((line) => line.message === 'TLS certificate not usable for a host; it is served without TLS')
      .map((line) => line.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        `host ${MISNAMED}: the certificate of Secret default/misnamed-tls does not name it`,
        expect.stringMatching(
          new RegExp(`^host ${EXPIRED}: the certificate of Secret default/expired-tls expired at `),
        ),
      ]),
    );
    const agent = httpsAgent({ ca: ca.certificate });
    expect((await httpsGet(agent, gateway.externalTlsPort, SECURE)).status).toBe(200);
    agent.destroy();
    expect(revisionOf((await get(plain, MISNAMED)).text)).toBe('misnamed-00001');
  });

  it('redirects plain HTTP for a Redirected Ingress to https, and serves the others as before', async () => {
    const redirected = await get(plain, `${REDIRECTED}:31080`, '/some/path?q=1');
    expect(redirected.status).toBe(301);
    expect(redirected.headers.location).toBe(`https://${REDIRECTED}/some/path?q=1`);
    expect((await get(plain, SECURE)).status).toBe(200);
    expect((await get(plain, PLAIN)).status).toBe(200);
    // In-cluster clients keep plain HTTP on the internal listener.
    const internal = new Pool(`http://127.0.0.1:${gateway.internalPort}`);
    expect(revisionOf((await get(internal, REDIRECTED)).text)).toBe('redirected-00001');
    await internal.close();
    const agent = httpsAgent({ ca: ca.certificate });
    expect(revisionOf((await httpsGet(agent, gateway.externalTlsPort, REDIRECTED)).text)).toBe('redirected-00001');
    agent.destroy();
  });

  it('serves a rotated certificate to new handshakes while an open connection keeps working', async () => {
    const agent = httpsAgent({ ca: ca.certificate, keepAlive: true, maxSockets: 1 });
    const before = await httpsGet(agent, gateway.externalTlsPort, SECURE);
    expect(before.serial).toBe(serials[SECURE]);
    const rotated = await issue(SECURE, 2);
    await gateway.update(routes(2));
    const fresh = await handshake(gateway.externalTlsPort, SECURE, ca.certificate);
    expect(fresh.getPeerCertificate().serialNumber).toBe(rotated);
    fresh.destroy();
    // The keep-alive connection opened before the rotation still answers, with the certificate it had.
    const after = await httpsGet(agent, gateway.externalTlsPort, SECURE);
    expect(after).toMatchObject({ status: 200, serial: serials[SECURE] });
    agent.destroy();
  });

  it('leaves a host with a broken certificate without TLS, logs its Secret, and serves every other host', async () => {
    // The certificate file itself is rewritten: the static source watches it as a Secret.
    const swaps = tableSwaps(gateway);
    writeAtomically(certFile(REDIRECTED, 'crt'), 'not a certificate');
    await waitForLine(gateway, () => tableSwaps(gateway) > swaps);
    const warning = gateway.lines.find(
      (line) => line.message === 'TLS secret not usable; its hosts are served without TLS',
    );
    expect(warning).toMatchObject({ secret: 'default/redirected-tls' });
    await expect(handshake(gateway.externalTlsPort, REDIRECTED, ca.certificate)).rejects.toThrow(
      /alert handshake failure/,
    );
    const agent = httpsAgent({ ca: ca.certificate });
    expect((await httpsGet(agent, gateway.externalTlsPort, SECURE)).status).toBe(200);
    agent.destroy();
    expect((await get(plain, PLAIN)).status).toBe(200);
  });
});

describe('gateway TLS with a default certificate (--default-certificate)', () => {
  let app: SampleApp;
  let gateway: GatewayProc;
  let ca: CertificateAuthority;
  let dir: string;
  const serials: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pilotlight-gateway-default-tls-'));
    ca = await createCertificateAuthority('gateway default TLS test CA', 1);
    const pairFiles = async (name: string, dnsNames: string[]) => {
      const pair = await ca.issue({ commonName: dnsNames[0]!, dnsNames, usage: 'server' });
      writeAtomically(join(dir, `${name}.crt`), pair.certificate);
      writeAtomically(join(dir, `${name}.key`), pair.privateKey);
      serials[name] = serialOf(pair.certificate);
      return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
    };
    const wildcard = await pairFiles('wildcard', ['*.default.example.com']);
    const own = await pairFiles('own', [SECURE]);
    app = await startSampleApp();
    const secure = ingress('secure', [{ hosts: [SECURE], paths: [{ splits: [split('secure-00001', 100)] }] }]) as {
      spec: object;
    };
    gateway = await startGateway(
      {
        ingresses: [
          {
            ...secure,
            spec: { ...secure.spec, tls: [{ hosts: [SECURE], secretName: 'own', secretNamespace: 'default' }] },
          },
          ingress('plain', [{ hosts: [PLAIN], paths: [{ splits: [split('plain-00001', 100)] }] }]),
          ingress('elsewhere', [
            { hosts: ['app.other.example.org'], paths: [{ splits: [split('elsewhere-00001', 100)] }] },
          ]),
        ],
        backends: ['secure', 'plain', 'elsewhere'].map((name) => ({
          name: `${name}-00001`,
          addresses: [`127.0.0.1:${app.port}`],
        })),
        secrets: [
          { namespace: 'default', name: 'own', ...own },
          { namespace: 'knative-serving', name: 'wildcard', ...wildcard },
        ],
      },
      ['--default-certificate', 'knative-serving/wildcard'],
    );
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await gateway?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, HOOK_TIMEOUT_MS);

  it('serves a public host without spec.tls with the default certificate, over HTTP/1.1 and HTTP/2', async () => {
    const agent = httpsAgent({ ca: ca.certificate });
    const h1 = await httpsGet(agent, gateway.externalTlsPort, PLAIN);
    agent.destroy();
    expect(h1).toMatchObject({ status: 200, alpn: 'http/1.1', serial: serials.wildcard });
    expect(revisionOf(h1.text)).toBe('plain-00001');
    const h2 = await h2Get(gateway.externalTlsPort, PLAIN, ca.certificate);
    expect(h2).toMatchObject({ status: 200, alpn: 'h2', serial: serials.wildcard });
  });

  it("keeps a host's own certificate, and fails the handshake for a name the default does not cover", async () => {
    const socket = await handshake(gateway.externalTlsPort, SECURE, ca.certificate);
    expect(socket.getPeerCertificate().serialNumber).toBe(serials.own);
    socket.destroy();
    await expect(handshake(gateway.externalTlsPort, 'app.other.example.org', ca.certificate)).rejects.toThrow(
      /alert handshake failure/,
    );
    // Cluster-local clients get no default certificate on the internal TLS listener.
    await expect(handshake(gateway.internalTlsPort, PLAIN, ca.certificate)).rejects.toThrow(/alert handshake failure/);
  });
});
