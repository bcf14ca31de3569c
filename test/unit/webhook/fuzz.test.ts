import { describe, expect, it } from 'vitest';
import { review, type AdmissionResponse } from '../../../controllers/webhook/admission.ts';
import { knativeDefaults } from '../../../controllers/webhook/config.ts';
import {
  admissionReview,
  FUZZ_KINDS,
  JAVASCRIPT_ERROR_TEXT,
  malformed,
  seededRandom,
  wellFormed,
} from '../../support/malformedObjects.ts';

const OBJECTS_PER_KIND = 2_000;
/** A couple of seconds per kind alone; more on a loaded machine, where a bound still ends it. */
const FUZZ_TIMEOUT_MS = 60_000;
const config = knativeDefaults();

/** The checks every answer to a malformed object must pass; returns the response for more. */
function expectFieldNamedAnswer(response: AdmissionResponse | undefined): AdmissionResponse {
  expect(response).toBeDefined();
  const answer = response!;
  if (!answer.allowed) {
    expect(answer.status?.code).toBe(400);
    expect(answer.status?.message).not.toMatch(JAVASCRIPT_ERROR_TEXT);
    const causes = answer.status?.details?.causes ?? [];
    expect(causes.length).toBeGreaterThan(0);
    for (const cause of causes) expect(cause.field).not.toBe('');
  }
  return answer;
}

/** The object after the defaulting patch, whose operations replace top-level sections and annotations. */
function patched(object: Record<string, unknown>, response: AdmissionResponse): Record<string, unknown> {
  if (!response.patch) return object;
  const out = structuredClone(object);
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString()) as { path: string; value: unknown }[];
  for (const op of ops) {
    const [section, field] = op.path.slice(1).split('/') as [string, string | undefined];
    if (field === undefined) out[section] = op.value;
    else (out[section] as Record<string, unknown>)[field] = op.value;
  }
  return out;
}

describe('the admission webhook against malformed objects', () => {
  it.each(FUZZ_KINDS)(
    'answers every malformed %s with field-named errors, never a JavaScript error',
    (kind) => {
      const random = seededRandom(0x5eed + kind.length);
      let denied = 0;
      for (let i = 0; i < OBJECTS_PER_KIND; i++) {
        const object = malformed(kind, random);
        const operation = random() < 0.5 ? 'CREATE' : 'UPDATE';
        const old = operation === 'UPDATE' ? (random() < 0.8 ? wellFormed(kind) : malformed(kind, random)) : undefined;
        const context = `${kind} #${i}: ${JSON.stringify(object).slice(0, 300)}`;
        const defaulting = expectFieldNamedAnswer(
          review('/defaulting', admissionReview(kind, object, operation, old), config).response,
        );
        // The validating webhook sees the object as defaulting left it.
        const validated = defaulting.allowed ? patched(object, defaulting) : object;
        const validation = expectFieldNamedAnswer(
          review('/validation', admissionReview(kind, validated, operation, old), config).response,
        );
        if (!defaulting.allowed) {
          // A shape error is found by both webhooks, worded the same.
          expect(validation.status?.message, context).toBe(defaulting.status?.message);
          denied++;
        }
      }
      // Most mutations put a wrong type somewhere; the rest must still have been answered.
      expect(denied).toBeGreaterThan(OBJECTS_PER_KIND / 4);
      expect(denied).toBeLessThan(OBJECTS_PER_KIND);
    },
    FUZZ_TIMEOUT_MS,
  );

  it("words a missing containers list and a spec of the wrong type as Knative's field errors", () => {
    const service = wellFormed('Service') as { spec: { template: { spec: Record<string, unknown> } } };
    delete service.spec.template.spec.containers;
    const missing = review('/defaulting', admissionReview('Service', service, 'CREATE'), config).response;
    expect(missing?.allowed).toBe(false);
    expect(missing?.status?.message).toBe('validation failed: missing field(s): spec.template.spec.containers');
    expect(missing?.status?.details?.causes).toEqual([
      { field: 'spec.template.spec.containers', message: 'missing field(s)', reason: 'FieldValueInvalid' },
    ]);

    // A required field the webhook does not read is the API server's to report, in its own words.
    const noImage = wellFormed('Service') as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    delete noImage.spec.template.spec.containers[1]!.image;
    expect(review('/defaulting', admissionReview('Service', noImage, 'CREATE'), config).response?.allowed).toBe(true);

    const stringSpec = { ...wellFormed('Service'), spec: 'template: please' };
    const wrongType = review('/defaulting', admissionReview('Service', stringSpec, 'CREATE'), config).response;
    expect(wrongType?.status?.message).toBe('validation failed: expected type object, got string: spec');
  });

  it('names every wrong item of a huge array up to a bound, then says how many more there are', () => {
    const revision = wellFormed('Revision') as { spec: Record<string, unknown> };
    revision.spec.containers = Array.from({ length: 5_000 }, () => 'image:latest');
    const response = review('/defaulting', admissionReview('Revision', revision, 'CREATE'), config).response;
    const causes = response?.status?.details?.causes ?? [];
    expect(causes.map((c) => c.field)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `spec.containers[${i}]`),
      'spec.containers[10]',
    ]);
    expect(causes.at(-1)?.message).toBe('and 4990 more shape errors');
  });

  it('treats a null field as unset, as the API server does, and an old object of the wrong shape as an error', () => {
    const service = wellFormed('Service') as { spec: Record<string, unknown> };
    service.spec.traffic = null;
    const defaulted = review('/defaulting', admissionReview('Service', service, 'CREATE'), config).response!;
    expect(defaulted.allowed).toBe(true);
    const spec = patched(service, defaulted).spec as { traffic: unknown };
    expect(spec.traffic).toEqual([{ percent: 100, latestRevision: true }]);

    const old = { ...wellFormed('Service'), spec: [] };
    const update = review('/validation', admissionReview('Service', wellFormed('Service'), 'UPDATE', old), config);
    expect(update.response?.status?.message).toBe('validation failed: expected type object, got array: oldObject.spec');
  });
});
