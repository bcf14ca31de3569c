import { type ConfigIssueReporter, configMapIssues } from '../../lib/config/parse.ts';

/** The keys a ConfigMap parser refuses (each falling back to its default), as "key: rule; …". */
export const refused = (
  parse: (data: Record<string, string>, report: ConfigIssueReporter) => unknown,
  data: Record<string, string>,
): string =>
  configMapIssues(parse, data)
    .map((issue) => `${issue.key}: ${issue.message}`)
    .join('; ');
