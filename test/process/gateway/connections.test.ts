// The gateway's listeners bound every phase of a connection (issue #19), HTTP/2 included:
// slowloris clients and idle or half-open h2c sessions are cut off after --headers-timeout and
// --keep-alive-timeout, while a session with a request in progress stays open for as long as the
// request takes; an upgrade waits for the 101 no longer than --upgrade-response-timeout and an
// idle tunnel is closed after --upgrade-idle-timeout.
import { constants, connect as http2Connect } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../../lib/pki.ts';
import { startSampleApp, type SampleApp } from '../../../harness/processes.ts';
import { connectRaw, HALF_SENT_HEADERS, HTTP2_SESSION_START, waitForClose } from '../../support/rawConnections.ts';
import {
  BOUND,
  BOUND_MS,
  CLOSE_WITHIN_MS,
  itBoundsEveryConnectionPhase,
  itBoundsUpgrades,
} from '../lib/connectionBounds.ts';
import { ingress, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'bounds.default.example.com';
const MAX_HEADER_BYTES = 4096;
/** --request-receive-timeout, which may not be below --headers-timeout. */
const RECEIVE_MS = 2 * BOUND_MS;

/** An h2c GET on a fresh session, its status, and whether the session was still open when it was answered. */
function h2cGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; sessionOpen: boolean }> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  return new Promise<{ status: number; sessionOpen: boolean }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${CLOSE_WITHIN_MS}ms`)), CLOSE_WITHIN_MS);
    session.once('error', reject);
    const stream = session.request({ ':path': path, ':authority': HOST, ...headers });
    stream.once('error', reject);
    stream.once('response', (headers) => {
      const sessionOpen = !session.closed && !session.destroyed;
      stream.resume();
      stream.once('end', () => {
        clearTimeout(timer);
        resolve({ status: Number(headers[':status']), sessionOpen });
      });
    });
    stream.end();
  }).finally(() => session.destroy());
}

/** A finished TLS handshake for HOST, offering `alpn`. */
function tlsHandshake(port: number, ca: string, alpn: string[]): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: HOST, ca, ALPNProtocols: alpn }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
}

describe('gateway connection bounds', () => {
  let app: SampleApp | undefined;
  let gateway: GatewayProc | undefined;
  let ca = '';

  beforeAll(async () => {
    const authority = await createCertificateAuthority('gateway connection bounds CA', 1);
    ca = authority.certificate;
    const pair = await authority.issue({ commonName: HOST, dnsNames: [HOST], usage: 'server', validDays: 1 });
    app = await startSampleApp();
    const plain = ingress('bounds', [{ hosts: [HOST], paths: [{ splits: [split('bounds-00001', 100)] }] }]) as {
      spec: object;
    };
    const withTls = { ...plain, spec: { ...plain.spec, tls: [{ hosts: [HOST], secretName: 'bounds-tls' }] } };
    gateway = await startGateway(
      {
        ingresses: [withTls],
        backends: [{ name: 'bounds-00001', addresses: [`127.0.0.1:${app.port}`] }],
        secrets: [{ namespace: 'default', name: 'bounds-tls', cert: pair.certificate, key: pair.privateKey }],
      },
      [
        '--headers-timeout',
        BOUND,
        '--max-header-bytes',
        String(MAX_HEADER_BYTES),
        '--keep-alive-timeout',
        BOUND,
        '--request-receive-timeout',
        `${RECEIVE_MS}ms`,
        '--upgrade-response-timeout',
        BOUND,
        '--upgrade-idle-timeout',
        BOUND,
      ],
    );
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await gateway?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  describe.each([
    { name: 'external listener', port: () => gateway!.externalPort },
    { name: 'internal listener', port: () => gateway!.internalPort },
  ])('on the $name', ({ port }) => itBoundsEveryConnectionPhase(port));

  describe('on the TLS listener', () => {
    it('closes a connection that never starts its TLS handshake', async () => {
      const ending = await waitForClose(await connectRaw(gateway!.externalTlsPort), CLOSE_WITHIN_MS);
      expect(ending.closed).toBe(true);
    });

    it('closes an HTTP/1.1 connection whose request line never ends', async () => {
      const socket = await tlsHandshake(gateway!.externalTlsPort, ca, ['http/1.1']);
      socket.write('GET / HT');
      expect((await waitForClose(socket, CLOSE_WITHIN_MS)).closed).toBe(true);
    });

    it('closes an h2 session that never opens a stream', async () => {
      const socket = await tlsHandshake(gateway!.externalTlsPort, ca, ['h2']);
      expect(socket.alpnProtocol).toBe('h2');
      socket.write(HTTP2_SESSION_START);
      expect((await waitForClose(socket, CLOSE_WITHIN_MS)).closed).toBe(true);
    });

    it('closes an h2 session whose HEADERS block never ends', async () => {
      const socket = await tlsHandshake(gateway!.externalTlsPort, ca, ['h2']);
      socket.write(Buffer.concat([HTTP2_SESSION_START, HALF_SENT_HEADERS]));
      expect((await waitForClose(socket, CLOSE_WITHIN_MS)).closed).toBe(true);
    });
  });

  it('keeps an h2c session open while a request on it takes longer than the keep-alive timeout', async () => {
    expect(await h2cGet(gateway!.externalPort, `/?sleep=${3 * BOUND_MS}`)).toEqual({ status: 200, sessionOpen: true });
  });

  it('answers 408 to an HTTP/1.1 request whose body never ends, after --request-receive-timeout', async () => {
    const socket = await connectRaw(gateway!.externalPort);
    socket.write(`POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 100\r\n\r\nonly part of it`);
    const ending = await waitForClose(socket, CLOSE_WITHIN_MS);
    expect(ending.closed).toBe(true);
    expect(ending.received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('resets an h2c stream whose body never ends, after --request-receive-timeout', async () => {
    const session = http2Connect(`http://127.0.0.1:${gateway!.externalPort}`);
    session.on('error', () => {});
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/', ':authority': HOST });
      stream.on('error', () => {});
      stream.write('only part of it');
      const closed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), CLOSE_WITHIN_MS);
        stream.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
        stream.resume();
      });
      expect(closed).toBe(true);
      expect(stream.rstCode).toBe(constants.NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
  });

  it('answers 431 to an h2c request whose header list is larger than --max-header-bytes', async () => {
    const port = gateway!.externalPort;
    const header = (bytes: number) => ({ 'x-filler': 'x'.repeat(bytes) });
    expect((await h2cGet(port, '/', header(MAX_HEADER_BYTES / 2))).status).toBe(200);
    expect((await h2cGet(port, '/', header(MAX_HEADER_BYTES))).status).toBe(431);
  });

  itBoundsUpgrades({ port: () => gateway!.externalPort, headers: { Host: HOST } });
});
