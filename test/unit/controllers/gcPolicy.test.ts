import { describe, expect, it } from 'vitest';
import { parseGcConfig } from '../../../lib/config/gc.ts';
import { revisionsToDelete, type RevisionMeta } from '../../../controllers/gc/policy.ts';
import { refused } from '../../support/configIssues.ts';

const HOUR = 3_600_000;
const now = Date.parse('2026-11-23T12:00:00Z');
const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR).toISOString();

const rev = (
  name: string,
  createdHoursAgo: number,
  activeHoursAgo: number,
  state = 'reserve',
  annotations: Record<string, string> = {},
): RevisionMeta => ({
  name,
  creationTimestamp: at(createdHoursAgo),
  labels: { 'serving.knative.dev/routingState': state },
  annotations: { 'serving.knative.dev/routingStateModified': at(activeHoursAgo), ...annotations },
});

describe('revision garbage collection policy', () => {
  it("with Knative's defaults keeps everything younger than 48h or active within 15h", () => {
    const revisions = Array.from({ length: 30 }, (_, i) => rev(`r-${i}`, 47, 1));
    expect(revisionsToDelete(revisions, 'r-29', parseGcConfig(), now)).toEqual([]);
  });

  it('deletes stale revisions oldest-active first, keeping min-non-active', () => {
    const config = parseGcConfig({ 'min-non-active-revisions': '2' });
    const revisions = [
      rev('a', 100, 20),
      rev('b', 100, 30),
      rev('c', 100, 16),
      rev('d', 100, 17),
      rev('live', 100, 0, 'active'),
    ];
    // Stale: created > 48h and inactive > 15h: all four reserve ones; b (30h) and a (20h) are the oldest.
    expect(revisionsToDelete(revisions, 'live', config, now)).toEqual(['b', 'a']);
  });

  it('never deletes the latest ready revision, a routed one, or one marked no-gc', () => {
    const config = parseGcConfig({ 'min-non-active-revisions': '0', 'max-non-active-revisions': '0' });
    const revisions = [
      rev('latest', 100, 50),
      rev('routed', 100, 50, 'active'),
      rev('pending', 100, 50, 'pending'),
      rev('kept', 100, 50, 'reserve', { 'serving.knative.dev/no-gc': 'true' }),
      rev('old', 100, 50),
    ];
    expect(revisionsToDelete(revisions, 'latest', config, now)).toEqual(['old']);
  });

  it('beyond max-non-active-revisions deletes the oldest even when none is stale', () => {
    const config = parseGcConfig({
      'min-non-active-revisions': '0',
      'max-non-active-revisions': '2',
      'retain-since-create-time': 'disabled',
      'retain-since-last-active-time': 'disabled',
    });
    const revisions = [rev('r1', 5, 5), rev('r2', 4, 4), rev('r3', 3, 3), rev('r4', 2, 2), rev('r5', 1, 0, 'active')];
    expect(revisionsToDelete(revisions, 'r5', config, now)).toEqual(['r1', 'r2']);
  });

  it('does nothing when every limit is disabled, or when there are no more than min revisions', () => {
    const off = parseGcConfig({
      'retain-since-create-time': 'disabled',
      'retain-since-last-active-time': 'disabled',
      'max-non-active-revisions': 'disabled',
    });
    expect(revisionsToDelete([rev('a', 100, 100), rev('b', 100, 100)], undefined, off, now)).toEqual([]);
    const few = parseGcConfig({ 'min-non-active-revisions': '3' });
    expect(
      revisionsToDelete([rev('a', 100, 100), rev('b', 100, 100), rev('c', 100, 100)], undefined, few, now),
    ).toEqual([]);
  });

  it('rejects a config-gc whose minimum exceeds its maximum', () => {
    expect(refused(parseGcConfig, { 'min-non-active-revisions': '5', 'max-non-active-revisions': '2' })).toMatch(
      'min-non-active-revisions: must not exceed max-non-active-revisions',
    );
  });
});
