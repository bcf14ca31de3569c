// Zod building blocks for Knative's string-valued ConfigMaps and annotations: every value
// arrives as text and is checked once, with the key and the rule in the error.
import { parse } from 'yaml';
import { z } from 'zod';
import { parseGoDuration } from './duration.ts';

export const intString = (rule?: { min?: number; max?: number }) =>
  z
    .string()
    .trim()
    .regex(/^[-+]?\d+$/, 'must be an integer')
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(rule?.min ?? Number.MIN_SAFE_INTEGER, rule?.min !== undefined ? `must be at least ${rule.min}` : undefined)
        .max(rule?.max ?? Number.MAX_SAFE_INTEGER, rule?.max !== undefined ? `must be at most ${rule.max}` : undefined),
    );

export const floatString = (rule?: { min?: number; max?: number; gt?: number }) => {
  let number = z.number();
  if (rule?.min !== undefined) number = number.min(rule.min, `must be at least ${rule.min}`);
  if (rule?.max !== undefined) number = number.max(rule.max, `must be at most ${rule.max}`);
  if (rule?.gt !== undefined) number = number.gt(rule.gt, `must be greater than ${rule.gt}`);
  return z
    .string()
    .trim()
    .refine((v) => v !== '' && Number.isFinite(Number(v)), 'must be a number')
    .transform(Number)
    .pipe(number);
};

export const boolString = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => v === 'true' || v === 'false', 'must be true or false')
  .transform((v) => v === 'true');

/** A Go duration in milliseconds, e.g. "60s". */
export const durationString = (rule?: { minMs?: number; maxMs?: number; wholeSeconds?: boolean }) =>
  z
    .string()
    .trim()
    .transform((v, ctx) => {
      const ms = parseGoDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as "60s" or "1m30s"' });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(
      z
        .number()
        .min(rule?.minMs ?? 0, `must be at least ${(rule?.minMs ?? 0) / 1000}s`)
        .max(
          rule?.maxMs ?? Number.MAX_SAFE_INTEGER,
          rule?.maxMs !== undefined ? `must be at most ${rule.maxMs / 1000}s` : undefined,
        )
        .refine((ms) => !rule?.wholeSeconds || ms % 1000 === 0, 'must be a whole number of seconds'),
    );

const SCALE: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The amount a Kubernetes quantity such as "250m", "1.5Gi" or "1e3" stands for; undefined if it is none. */
export function quantityValue(text: string): number | undefined {
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/.exec(text.trim());
  if (!match) return undefined;
  const exponent = match[2] === undefined ? 1 : 10 ** Number(match[2]);
  return Number(match[1]) * exponent * SCALE[match[3] ?? '']!;
}

/** A Kubernetes quantity; `example` shows a valid one in the error. */
export const quantityString = (example: string) =>
  z
    .string()
    .trim()
    .refine((v) => quantityValue(v) !== undefined, `must be a Kubernetes quantity such as ${example}`);

/** A key whose value is YAML (or JSON), parsed and then held to schema. */
export const yamlString = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((v, ctx) => {
      try {
        return parse(v) as unknown;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `is not YAML: ${(error as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(schema);

export interface ConfigIssue {
  key: string;
  message: string;
}

/** Readable issues of a failed parse; key is the ConfigMap key each names. */
export function configIssues(error: z.ZodError): ConfigIssue[] {
  // A key holding YAML (an issuer reference, a selector) names the field inside it that is wrong.
  return error.issues.map(({ path, message }) => ({
    key: String(path[0] ?? ''),
    message: path.length > 1 ? `${path.slice(1).join('.')}: ${message}` : message,
  }));
}

/** Told of each key whose value was refused and replaced by its default. */
export type ConfigIssueReporter = (issue: ConfigIssue) => void;

/** A ConfigMap no defaults can save; `unresolved` are the issues beyond the keys already reported. */
class ConfigMapInvalid extends Error {
  readonly unresolved: ConfigIssue[];
  constructor(name: string, reported: ConfigIssue[], unresolved: ConfigIssue[]) {
    const all = [...reported, ...unresolved];
    super(`ConfigMap ${name} is invalid: ${all.map((i) => `${i.key}: ${i.message}`).join('; ')}`);
    this.unresolved = unresolved;
  }
}

/**
 * Parses the `data` of a ConfigMap with a schema whose keys are the ConfigMap's keys, key by key:
 * a key whose value breaks its rule (alone or against another key) falls back to its default and
 * is reported, so one bad value never costs the rest of the ConfigMap. Unknown keys are ignored,
 * as Knative does. Throws, naming every key and rule, only when defaults cannot stand in: a
 * required key is missing or bad, or keys left at their defaults still conflict.
 */
export function parseConfigMap<T extends z.ZodType>(
  name: string,
  schema: T,
  data: Record<string, string> | undefined,
  report?: ConfigIssueReporter,
): z.output<T> {
  const kept: Record<string, string> = { ...data };
  const dropped: ConfigIssue[] = [];
  // Each round drops at least one key, so the rounds are bounded by the number of keys.
  for (let round = 0, keys = Object.keys(kept).length; round <= keys; round++) {
    const result = schema.safeParse(kept);
    if (result.success) return result.data;
    const issues = configIssues(result.error);
    const droppable = issues.filter((issue) => Object.hasOwn(kept, issue.key));
    // The keys already dropped are named too: their values are why defaults had to stand in.
    if (droppable.length === 0) throw new ConfigMapInvalid(name, dropped, issues);
    for (const issue of droppable) {
      if (!Object.hasOwn(kept, issue.key)) continue;
      delete kept[issue.key];
      dropped.push(issue);
      report?.(issue);
    }
  }
  throw new ConfigMapInvalid(name, dropped, []);
}

/** Every key of data that parseConfigMap would refuse, with its rule; none when all are valid. */
export function configMapIssues(
  parse: (data: Record<string, string>, report: ConfigIssueReporter) => unknown,
  data: Record<string, string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  try {
    parse(data, (issue) => issues.push(issue));
  } catch (error) {
    if (error instanceof ConfigMapInvalid) issues.push(...error.unresolved);
    else issues.push({ key: '', message: error instanceof Error ? error.message : String(error) });
  }
  return issues;
}
