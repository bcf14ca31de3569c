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
import { z } from 'zod';
import { configMapErrors } from './configValidation.ts';
import { checkShape, type ShapedKind } from './shape.ts';
import {
  formatFieldError,
  validateConfiguration,
  validateDomainMapping,
  validateRevision,
  validateRoute,
  validateService,
  type FieldError,
} from './validation.ts';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The object fields are kept as sent (z.custom does not copy them); their shape is checked per kind. */
const admissionObject = z.custom<Record<string, unknown>>(isObject, 'expected an object').nullish();

const admissionRequestSchema = z.object({
  uid: z.string(),
  kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }),
  operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
  userInfo: z.object({ username: z.string().optional() }).optional(),
  object: admissionObject,
  oldObject: admissionObject,
});

export type AdmissionRequest = z.infer<typeof admissionRequestSchema>;

const admissionReviewSchema = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: admissionRequestSchema,
});

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** The AdmissionReview an API server sent, or what is wrong with it, field by field. */
export function parseAdmissionReview(body: unknown): { review: AdmissionReview } | { errors: FieldError[] } {
  const parsed = admissionReviewSchema.safeParse(body);
  if (parsed.success) return { review: parsed.data };
  return { errors: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) };
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

type Kind = ShapedKind;
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
  const shaped = shapedObjects(kind, request, request.object);
  if ('errors' in shaped) return deny(request.uid, shaped.errors);
  const ctx: AdmissionContext = { operation: request.operation, username: request.userInfo?.username ?? '', config };
  const defaulted = applyDefaults(kind, shaped.object, shaped.old, ctx);
  // Against the object without its null fields: those the API server drops itself, patch or not.
  const patch = jsonPatch(shaped.object, defaulted);
  if (patch.length === 0) return { uid: request.uid, allowed: true };
  return {
    uid: request.uid,
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
  };
}

/**
 * The object and the stored one it replaces, both checked against the kind's schema first, so
 * defaulting and validation only ever see the types they are written for.
 */
function shapedObjects(
  kind: Kind,
  request: AdmissionRequest,
  object: Record<string, unknown>,
): { object: Record<string, unknown>; old: Record<string, unknown> | undefined } | { errors: FieldError[] } {
  const shaped = checkShape(kind, object);
  const old = request.oldObject ? checkShape(kind, request.oldObject, 'oldObject.') : undefined;
  const errors = [...shaped.errors, ...(old?.errors ?? [])];
  return errors.length > 0 ? { errors } : { object: shaped.object, old: old?.object };
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
  const shaped = shapedObjects(kind, request, request.object);
  if ('errors' in shaped) return deny(request.uid, shaped.errors);
  const old = request.operation === 'UPDATE' ? shaped.old : undefined;
  const errors = validate(kind, shaped.object, old, config);
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

/** A Knative ConfigMap, created or replaced, is allowed only if every key keeps its rule. */
export function configMapResponse(request: AdmissionRequest): AdmissionResponse {
  const { object } = request;
  if (
    request.kind.group !== '' ||
    request.kind.kind !== 'ConfigMap' ||
    !object ||
    (request.operation !== 'CREATE' && request.operation !== 'UPDATE')
  ) {
    return { uid: request.uid, allowed: true };
  }
  const name = isObject(object.metadata) && typeof object.metadata.name === 'string' ? object.metadata.name : '';
  const data = isObject(object.data) ? (object.data as Record<string, string>) : {};
  const errors = configMapErrors(name, data);
  if (errors.length === 0) return { uid: request.uid, allowed: true };
  // kubectl shows the message after the webhook's name, config.webhook.serving.knative.dev.
  return deny(request.uid, errors);
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

/** The path of config.webhook.serving.knative.dev, as upstream's. */
export const CONFIG_VALIDATION_PATH = '/config-validation';

/** Answers one AdmissionReview body for the given webhook path. */
export function review(path: string, body: AdmissionReview, config: WebhookConfig): AdmissionReview {
  const request = body.request;
  if (!request) throw new Error('AdmissionReview without request');
  const response =
    path === '/defaulting'
      ? defaultingResponse(request, config)
      : path === CONFIG_VALIDATION_PATH
        ? configMapResponse(request)
        : validationResponse(request, config);
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
