// The HTTPS endpoint the API server calls for admission.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../lib/http/body.ts';
import type { Logger } from '../../lib/log.ts';
import { CONFIG_VALIDATION_PATH, parseAdmissionReview, review } from './admission.ts';
import type { WebhookConfig } from './config.ts';
import { loadShapeSchemas } from './shape.ts';
import { formatFieldError } from './validation.ts';
import type { KeyPairPem } from '../../lib/pki.ts';

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const ADMISSION_PATHS: ReadonlySet<string> = new Set(['/defaulting', '/validation', CONFIG_VALIDATION_PATH]);

export interface WebhookServerOptions {
  host: string;
  port: number;
  tls: KeyPairPem;
  config: () => WebhookConfig;
  /** Whether the process is ready for traffic, which /readyz reports; /healthz only says it is alive. */
  ready: () => boolean;
  log: Logger;
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<Server> {
  loadShapeSchemas();
  const server = createServer({ key: options.tls.privateKey, cert: options.tls.certificate }, (req, res) => {
    handle(req, res, options).catch((error: unknown) => {
      options.log.error('admission request failed', { error });
      // The details are in the log; the caller learns only that it was not its fault.
      if (!res.headersSent) reply(res, 500, { error: 'internal error in the admission webhook' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, options: WebhookServerOptions): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://webhook').pathname;
  if (req.method === 'GET' && path === '/healthz') {
    reply(res, 200, { ok: true });
    return;
  }
  if (req.method === 'GET' && path === '/readyz') {
    const ready = options.ready();
    reply(res, ready ? 200 : 503, { ok: ready });
    return;
  }
  if (req.method !== 'POST' || !ADMISSION_PATHS.has(path)) {
    reply(res, 404, { error: `no handler for ${req.method} ${path}` });
    return;
  }
  const text = await readBody(req, MAX_BODY_BYTES);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    reply(res, 400, { error: 'the body is not JSON: expected an AdmissionReview' });
    return;
  }
  const parsed = parseAdmissionReview(body);
  if ('errors' in parsed) {
    reply(res, 400, {
      error: `not an admission.k8s.io/v1 AdmissionReview: ${parsed.errors.map(formatFieldError).join('; ')}`,
    });
    return;
  }
  const answer = review(path, parsed.review, options.config());
  const request = parsed.review.request;
  options.log.debug('admission', {
    path,
    kind: request?.kind.kind,
    name: (request?.object?.metadata as { name?: string } | undefined)?.name,
    allowed: answer.response?.allowed,
  });
  reply(res, 200, answer);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
