import type { Revision } from '../../../lib/apis/serving.ts';
import { describe, expect, it } from 'vitest';
import { pickLatestReady } from '../../../controllers/configuration/latestReady.ts';

const rev = (name: string, generation: number, ready: boolean): Revision => ({
  metadata: { name, generation: 1, labels: { 'serving.knative.dev/configurationGeneration': String(generation) } },
  status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: ready ? 'True' : 'Unknown' }] },
});

describe('pickLatestReady', () => {
  it('takes the ready revision of the newest generation up to the configuration generation', () => {
    expect(
      pickLatestReady([rev('c-00001', 1, true), rev('c-00002', 2, true), rev('c-00003', 3, false)], 'c-00001', 3),
    ).toBe('c-00002');
  });

  it('keeps the current one while the newer revision is not ready', () => {
    expect(pickLatestReady([rev('c-00001', 1, true), rev('c-00002', 2, false)], 'c-00001', 2)).toBe('c-00001');
  });

  it('never moves back to a generation older than the current latest ready', () => {
    expect(pickLatestReady([rev('c-00001', 1, true), rev('c-00003', 3, true)], 'c-00003', 3)).toBe('c-00003');
  });

  it('ignores revisions whose status describes an older generation of themselves', () => {
    const stale = rev('c-00001', 1, true);
    stale.metadata!.generation = 2;
    expect(pickLatestReady([stale], undefined, 1)).toBeUndefined();
  });
});
