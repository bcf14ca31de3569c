// The admission webhook's real HTTPS endpoint against malformed objects and malformed reviews:
// every answer is a 200 AdmissionReview or a 400 that names what is wrong, never a 500.
import type { AddressInfo } from 'node:net';
import { request } from 'node:https';
import type { Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionReview } from '../../../controllers/webhook/admission.ts';
import { knativeDefaults } from '../../../controllers/webhook/config.ts';
import { startWebhookServer } from '../../../controllers/webhook/server.ts';
import { createLogger } from '../../../lib/log.ts';
import { createCertificateAuthority } from '../../../lib/pki.ts';
import {
  admissionReview,
  FUZZ_KINDS,
  JAVASCRIPT_ERROR_TEXT,
  malformed,
  seededRandom,
} from '../../support/malformedObjects.ts';

const OBJECTS_PER_KIND = 100;

let server: Server;
let ca: string;
let port: number;
/** What the server's readiness reports; a test flips it. */
let ready = true;

beforeAll(async () => {
  const authority = await createCertificateAuthority('webhook-test-ca');
  const serving = await authority.issue({
    commonName: 'webhook',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  ca = authority.certificate;
  server = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    tls: serving,
    config: knativeDefaults,
    ready: () => ready,
    log: createLogger('webhook-test'),
  });
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function post(path: string, body: string, method = 'POST'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, ca, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('the admission webhook over HTTPS', () => {
  it('answers malformed objects of every kind with a 200 review whose denials name fields', async () => {
    const random = seededRandom(0xadd);
    let denied = 0;
    for (const kind of FUZZ_KINDS) {
      for (let i = 0; i < OBJECTS_PER_KIND; i++) {
        for (const path of ['/defaulting', '/validation']) {
          const answer = await post(path, JSON.stringify(admissionReview(kind, malformed(kind, random), 'CREATE')));
          expect(answer.status).toBe(200);
          const response = (JSON.parse(answer.body) as AdmissionReview).response!;
          expect(response.uid).toBe('fuzz');
          if (response.allowed) continue;
          denied++;
          expect(response.status?.message).not.toMatch(JAVASCRIPT_ERROR_TEXT);
          expect(response.status?.details?.causes.every((c) => c.field !== '')).toBe(true);
        }
      }
    }
    expect(denied).toBeGreaterThan(0);
  });

  it('answers a body that is not an AdmissionReview with 400 naming what is wrong', async () => {
    const notJson = await post('/validation', '{"apiVersion": ');
    expect(notJson).toEqual({
      status: 400,
      body: JSON.stringify({ error: 'the body is not JSON: expected an AdmissionReview' }),
    });

    const noRequest = await post(
      '/defaulting',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
    );
    expect(noRequest.status).toBe(400);
    expect(JSON.parse(noRequest.body).error).toMatch(/^not an admission.k8s.io\/v1 AdmissionReview: request: /);

    const review = admissionReview('Service', {}, 'CREATE');
    const badKind = await post(
      '/defaulting',
      JSON.stringify({ ...review, request: { ...review.request, kind: 'Service', object: 'spec' } }),
    );
    expect(badKind.status).toBe(400);
    const error = JSON.parse(badKind.body).error as string;
    expect(error).toContain('request.kind: ');
    expect(error).toContain('request.object: expected an object');
    expect(error).not.toMatch(JAVASCRIPT_ERROR_TEXT);

    for (const body of ['null', '[]', '"review"', '7']) expect((await post('/validation', body)).status).toBe(400);
  });

  it('answers /readyz 503 until the process says it is ready, while /healthz answers 200 throughout', async () => {
    ready = false;
    try {
      expect(await post('/readyz', '', 'GET')).toMatchObject({ status: 503 });
      expect(await post('/healthz', '', 'GET')).toMatchObject({ status: 200 });
    } finally {
      ready = true;
    }
    expect(await post('/readyz', '', 'GET')).toMatchObject({ status: 200 });
    expect(await post('/healthz', '', 'GET')).toMatchObject({ status: 200 });
  });

  it('refuses a ConfigMap edit on /config-validation naming the key and its rule', async () => {
    const configMap = (data: Record<string, string>) =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'cm',
          kind: { group: '', version: 'v1', kind: 'ConfigMap' },
          operation: 'UPDATE',
          object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-autoscaler' }, data },
        },
      });
    const refused = await post('/config-validation', configMap({ 'max-scale-down-rate': '1' }));
    expect(refused.status).toBe(200);
    expect((JSON.parse(refused.body) as AdmissionReview).response).toMatchObject({
      uid: 'cm',
      allowed: false,
      status: { message: 'validation failed: data.max-scale-down-rate: must be greater than 1' },
    });
    const accepted = await post('/config-validation', configMap({ 'max-scale-down-rate': '4' }));
    expect((JSON.parse(accepted.body) as AdmissionReview).response?.allowed).toBe(true);
  });
});
