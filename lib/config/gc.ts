// config-gc: when old revisions are deleted (upstream pkg/gc/config.go). Durations and the
// maximum accept "disabled".
import { z } from 'zod';
import { parseGoDuration } from './duration.ts';
import { intString, type ConfigIssueReporter, parseConfigMap } from './parse.ts';

const disabledOr = <T extends z.ZodType<number>>(inner: T) =>
  z
    .string()
    .trim()
    .transform((v, ctx): number | 'disabled' => {
      if (v.toLowerCase() === 'disabled') return 'disabled';
      const parsed = inner.safeParse(v);
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', message: `${parsed.error.issues[0]?.message ?? 'is invalid'}, or "disabled"` });
        return z.NEVER;
      }
      return parsed.data;
    });

const duration = z.string().transform((v, ctx) => {
  const ms = parseGoDuration(v);
  if (ms === undefined || ms < 0) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as "48h"' });
    return z.NEVER;
  }
  return ms;
});

export const gcSchema = z
  .object({
    'retain-since-create-time': disabledOr(duration).default(48 * 3_600_000),
    'retain-since-last-active-time': disabledOr(duration).default(15 * 3_600_000),
    'min-non-active-revisions': intString({ min: 0 }).default(20),
    'max-non-active-revisions': disabledOr(intString({ min: 0 })).default(1000),
  })
  .superRefine((c, ctx) => {
    const max = c['max-non-active-revisions'];
    if (max !== 'disabled' && c['min-non-active-revisions'] > max) {
      ctx.addIssue({
        code: 'custom',
        path: ['min-non-active-revisions'],
        message: 'must not exceed max-non-active-revisions',
      });
    }
  })
  .transform((c) => ({
    retainSinceCreateMs: c['retain-since-create-time'],
    retainSinceLastActiveMs: c['retain-since-last-active-time'],
    minNonActive: c['min-non-active-revisions'],
    maxNonActive: c['max-non-active-revisions'],
  }));

export type GcConfig = z.output<typeof gcSchema>;

export const CONFIG_GC = 'config-gc';
export const parseGcConfig = (data?: Record<string, string>, report?: ConfigIssueReporter): GcConfig =>
  parseConfigMap(CONFIG_GC, gcSchema, data, report);
