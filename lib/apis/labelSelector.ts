// Kubernetes' LabelSelector (metav1.LabelSelector): its shape, checked with zod where a ConfigMap
// carries one, and whether a set of labels matches it (apimachinery's LabelSelectorAsSelector).
import { z } from 'zod';

const requirementSchema = z
  .object({
    key: z.string().min(1),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist'], { error: 'must be In, NotIn, Exists or DoesNotExist' }),
    values: z.array(z.string()).optional(),
  })
  .superRefine((r, ctx) => {
    const needsValues = r.operator === 'In' || r.operator === 'NotIn';
    if (needsValues && (r.values ?? []).length === 0)
      ctx.addIssue({ code: 'custom', message: `${r.operator} needs values` });
    if (!needsValues && (r.values ?? []).length > 0)
      ctx.addIssue({ code: 'custom', message: `${r.operator} takes no values` });
  });

export const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z.array(requirementSchema).optional(),
  })
  .strict();

export type LabelSelector = z.output<typeof labelSelectorSchema>;

/** Every matchLabels pair and every expression holds; an empty selector matches everything. */
export function matchesSelector(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  const pairs = Object.entries(selector.matchLabels ?? {});
  if (!pairs.every(([key, value]) => labels[key] === value)) return false;
  return (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const present = Object.hasOwn(labels, key);
    if (operator === 'Exists') return present;
    if (operator === 'DoesNotExist') return !present;
    if (operator === 'In') return present && values.includes(labels[key]!);
    return !present || !values.includes(labels[key]!);
  });
}
