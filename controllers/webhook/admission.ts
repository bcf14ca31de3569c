// AdmissionReview in, AdmissionReview out: routes each request to the defaulting or validation
// of its kind. Pure, so tests can call it without a server.
import type { DomainMapping } from '../../lib/apis/domainMapping.ts';
import type { Configuration, Revision, Route, Service } from '../../lib/apis/serving.ts';
import type { WebhookConfig } from './config.ts';
import {
  defaultConfiguration,
  defaultDomainMapping,
  defaultRevision,
  defaultRoute,
  defaultService,
  type AdmissionContext,
} from './defaulting.ts';
import { isDeepStrictEqual as isDeepEqual } from 'node:util';
import {
  formatFieldError,
  validateConfiguration,
  validateDomainMapping,
  validateRevision,
  validateRoute,
  validateService,
  type FieldError,
} from './validation.ts';

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo?: { username?: string };
  object?: Record<string, unknown>;
  oldObject?: Record<string, unknown> | null;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  status?: {
    code: number;
    reason: string;
    message: string;
    details?: { causes: { field: string; message: string; reason: string }[] };
  };
}

interface JsonPatchOperation {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

type Kind = 'Service' | 'Configuration' | 'Revision' | 'Route' | 'DomainMapping';
const SERVING_KINDS = new Set<string>(['Service', 'Configuration', 'Revision', 'Route', 'DomainMapping']);

function servingKind(request: AdmissionRequest): Kind | undefined {
  return request.kind.group === 'serving.knative.dev' && SERVING_KINDS.has(request.kind.kind)
    ? (request.kind.kind as Kind)
    : undefined;
}

export function defaultingResponse(request: AdmissionRequest, config: WebhookConfig): AdmissionResponse {
  const kind = servingKind(request);
  if (!kind || !request.object || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return { uid: request.uid, allowed: true };
  }
  const ctx: AdmissionContext = { operation: request.operation, username: request.userInfo?.username ?? '', config };
  const old = request.oldObject ?? undefined;
  const object = request.object;
  let defaulted: Record<string, unknown>;
  try {
    defaulted = applyDefaults(kind, object, old, ctx);
  } catch (error) {
    return deny(request.uid, [{ path: '', message: `could not apply defaults: ${(error as Error).message}` }]);
  }
  const patch = jsonPatch(object, defaulted);
  if (patch.length === 0) return { uid: request.uid, allowed: true };
  return {
    uid: request.uid,
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
  };
}

function applyDefaults(
  kind: Kind,
  object: Record<string, unknown>,
  old: Record<string, unknown> | undefined,
  ctx: AdmissionContext,
): Record<string, unknown> {
  switch (kind) {
    case 'Service':
      return defaultService(
        object as unknown as Service,
        old as unknown as Service | undefined,
        ctx,
      ) as unknown as Record<string, unknown>;
    case 'Configuration':
      return defaultConfiguration(
        object as unknown as Configuration,
        old as unknown as Configuration | undefined,
        ctx,
      ) as unknown as Record<string, unknown>;
    case 'Revision':
      return defaultRevision(object as unknown as Revision, ctx) as unknown as Record<string, unknown>;
    case 'Route':
      return defaultRoute(object as unknown as Route, old as unknown as Route | undefined, ctx) as unknown as Record<
        string,
        unknown
      >;
    case 'DomainMapping':
      return defaultDomainMapping(
        object as unknown as DomainMapping,
        old as unknown as DomainMapping | undefined,
        ctx,
      ) as unknown as Record<string, unknown>;
  }
}

export function validationResponse(request: AdmissionRequest, config: WebhookConfig): AdmissionResponse {
  const kind = servingKind(request);
  if (!kind || !request.object || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return { uid: request.uid, allowed: true };
  }
  const object = request.object;
  const old = request.operation === 'UPDATE' ? (request.oldObject ?? undefined) : undefined;
  const errors = validate(kind, object, old, config);
  return errors.length === 0 ? { uid: request.uid, allowed: true } : deny(request.uid, errors);
}

function validate(
  kind: Kind,
  object: Record<string, unknown>,
  old: Record<string, unknown> | undefined,
  config: WebhookConfig,
): FieldError[] {
  switch (kind) {
    case 'Service':
      return validateService(object as unknown as Service, old as unknown as Service | undefined, config);
    case 'Configuration':
      return validateConfiguration(
        object as unknown as Configuration,
        old as unknown as Configuration | undefined,
        config,
      );
    case 'Revision':
      return validateRevision(object as unknown as Revision, config);
    case 'Route':
      return validateRoute(object as unknown as Route);
    case 'DomainMapping':
      return validateDomainMapping(object as unknown as DomainMapping);
  }
}

function deny(uid: string, errors: FieldError[]): AdmissionResponse {
  const message = errors.map(formatFieldError).join('; ');
  return {
    uid,
    allowed: false,
    status: {
      code: 400,
      reason: 'BadRequest',
      message: `validation failed: ${message}`,
      details: { causes: errors.map((e) => ({ field: e.path, message: e.message, reason: 'FieldValueInvalid' })) },
    },
  };
}

/** Replaces each changed top-level section, and metadata.annotations alone. */
export function jsonPatch(before: Record<string, unknown>, after: Record<string, unknown>): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  for (const key of Object.keys(after)) {
    if (key === 'metadata' || isDeepEqual(before[key], after[key])) continue;
    ops.push({ op: key in before ? 'replace' : 'add', path: `/${key}`, value: after[key] });
  }
  const beforeMeta = (before.metadata ?? {}) as { annotations?: unknown };
  const afterMeta = (after.metadata ?? {}) as { annotations?: unknown };
  if (!isDeepEqual(beforeMeta.annotations, afterMeta.annotations)) {
    if (!before.metadata) ops.push({ op: 'add', path: '/metadata', value: {} });
    ops.push({
      op: beforeMeta.annotations ? 'replace' : 'add',
      path: '/metadata/annotations',
      value: afterMeta.annotations,
    });
  }
  return ops;
}

/** Answers one AdmissionReview body for the given webhook path. */
export function review(path: string, body: AdmissionReview, config: WebhookConfig): AdmissionReview {
  const request = body.request;
  if (!request) throw new Error('AdmissionReview without request');
  const response = path === '/defaulting' ? defaultingResponse(request, config) : validationResponse(request, config);
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
