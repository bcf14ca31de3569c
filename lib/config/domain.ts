// config-domain: which domain suffix each route gets (upstream pkg/reconciler/route/config/domain.go).
// Keys are domain suffixes; a value is empty (matches every route) or YAML `selector: {label: value}`.
import { parse } from 'yaml';
import { z } from 'zod';
import type { ConfigIssueReporter } from './parse.ts';

export const CLUSTER_DOMAIN = process.env.CLUSTER_DOMAIN ?? 'cluster.local';
export const CONFIG_DOMAIN = 'config-domain';

export interface DomainEntry {
  domain: string;
  selector: Record<string, string>;
  /** Namespaces get a wildcard Certificate for it (`type: wildcard`, as every domain without a selector is). */
  wildcard: boolean;
}
export type DomainConfig = DomainEntry[];

const selectorSchema = z
  .object({ selector: z.record(z.string(), z.string()).optional(), type: z.string().optional() })
  .nullable();
const DOMAIN = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A key that is not a domain, or a value that is not a selector, is left out and reported. */
export function parseDomainConfig(
  data: Record<string, string> | undefined,
  report?: ConfigIssueReporter,
): DomainConfig {
  const entries: DomainEntry[] = [];
  for (const [domain, value] of Object.entries(data ?? {})) {
    if (domain.startsWith('_')) continue;
    if (!DOMAIN.test(domain)) {
      report?.({ key: domain, message: 'is not a domain name' });
      continue;
    }
    let selector: Record<string, string> = {};
    let type: string | undefined;
    if (value.trim() !== '') {
      const parsed = selectorSchema.safeParse(parseYamlOrUndefined(value));
      if (!parsed.success) {
        report?.({ key: domain, message: 'must be empty or "selector: {label: value}"' });
        continue;
      }
      selector = parsed.data?.selector ?? {};
      type = parsed.data?.type;
    }
    const wildcard = type === 'wildcard' || Object.keys(selector).length === 0;
    entries.push({ domain, selector, wildcard });
  }
  return entries;
}

function parseYamlOrUndefined(text: string): unknown {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The domain for a route's labels: the entry whose selector matches the most labels wins, ties
 * go to the alphabetically first domain; with no match at all routes stay cluster-local.
 */
export function domainForLabels(config: DomainConfig, labels: Record<string, string>): string {
  let best: DomainEntry | undefined;
  for (const entry of config) {
    const keys = Object.keys(entry.selector);
    if (!keys.every((k) => labels[k] === entry.selector[k])) continue;
    const better =
      !best ||
      keys.length > Object.keys(best.selector).length ||
      (keys.length === Object.keys(best.selector).length && entry.domain < best.domain);
    if (better) best = entry;
  }
  return best?.domain ?? `svc.${CLUSTER_DOMAIN}`;
}
