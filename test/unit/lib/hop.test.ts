import { describe, expect, it } from 'vitest';
import { canonicalHeaderName, HopHeaders, INTERNAL_REQUEST_HEADERS } from '../../../lib/hop.ts';

describe('hop contract', () => {
  it('names internal headers in lower case, as node:http delivers them', () => {
    for (const name of INTERNAL_REQUEST_HEADERS) expect(name).toBe(name.toLowerCase());
    expect([...INTERNAL_REQUEST_HEADERS]).toEqual(expect.arrayContaining(['k-proxy-request', 'k-original-host']));
  });

  it('writes header names as Knative stores them', () => {
    expect(canonicalHeaderName(HopHeaders.networkProbe)).toBe('K-Network-Probe');
    expect(canonicalHeaderName(HopHeaders.revisionNamespace)).toBe('Knative-Serving-Namespace');
  });
});
