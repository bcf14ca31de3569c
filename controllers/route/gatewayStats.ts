// The canary analysis' figures: each revision's requests, 5xx answers and latency histogram over
// the last window, read from the gateway's admin endpoint (GET /revisions/stats). The URL's host
// may name several gateway replicas (a headless Service): each address is asked and the
// histograms add up, so the p99 is that of all the requests. A replica that cannot answer fails
// the read, rather than figures that leave part of the traffic out.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { mergeFigures, revisionStatsReportSchema, type RevisionFigures } from '../../lib/stats/revisionFigures.ts';

/** Figures by revision name for one namespace over the last windowMs. */
export type ReadFigures = (namespace: string, windowMs: number) => Promise<Map<string, RevisionFigures>>;

const READ_TIMEOUT_MS = 5_000;

export function gatewayStatsReader(url: string): ReadFigures {
  const base = new URL(url);
  return async (namespace, windowMs) => {
    const host = base.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
    const reports = await Promise.all(
      addresses.map(async (address) => {
        const target = new URL(base);
        target.hostname = isIP(address) === 6 ? `[${address}]` : address;
        target.searchParams.set('window', `${Math.ceil(windowMs / 1000)}s`);
        target.searchParams.set('namespace', namespace);
        const res = await fetch(target, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
        if (!res.ok) throw new Error(`${target.href} answered ${res.status}: ${await res.text()}`);
        return revisionStatsReportSchema.parse(await res.json());
      }),
    );
    const byRevision = new Map<string, RevisionFigures>();
    for (const report of reports)
      for (const { revision, requests, errors, latency } of report.revisions) {
        const figures = { requests, errors, latency };
        const seen = byRevision.get(revision);
        byRevision.set(revision, seen ? mergeFigures(seen, figures) : figures);
      }
    return byRevision;
  };
}
