import { describe, expect, it } from 'vitest';
import { Announcements, withAnnounced } from '../../../activator/announced.ts';
import { podAddress } from '../../../activator/backends.ts';
import type { RevisionBackends } from '../../../activator/backends.ts';
import { createLogger } from '../../../lib/log.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

const backends = (pods: string[], extra: Partial<RevisionBackends> = {}): RevisionBackends => ({
  containerConcurrency: 0,
  timeoutMs: 300_000,
  pods,
  announcePort: 8012,
  ...extra,
});

describe('withAnnounced', () => {
  it('adds the announced pods the source does not list, as not ready, and keeps waiting for them', () => {
    const merged = withAnnounced(
      backends(['10.0.0.1:8012'], { notReady: ['10.0.0.1:8012'] }),
      new Map([['10.0.0.2:8012', 100]]),
      50,
    );
    expect(merged.backends.pods).toEqual(['10.0.0.1:8012', '10.0.0.2:8012']);
    expect(merged.backends.notReady).toEqual(['10.0.0.1:8012', '10.0.0.2:8012']);
    expect([...merged.waiting]).toEqual([['10.0.0.2:8012', 100]]);
  });

  it('forgets an announced pod once the Endpoints list it, ready or not, as a standard or a reserved pod', () => {
    const announced = new Map([
      ['10.0.0.1:8012', 100],
      ['10.0.0.2:8012', 100],
    ]);
    const source = backends(['10.0.0.1:8012'], {
      reserved: { containerConcurrency: 1, pods: ['10.0.0.2:8012'] },
    });
    const merged = withAnnounced(source, announced, 50);
    expect(merged.backends).toBe(source);
    expect(merged.waiting.size).toBe(0);
  });

  it('forgets an announced pod once its time is up', () => {
    const source = backends([]);
    const merged = withAnnounced(source, new Map([['10.0.0.2:8012', 100]]), 100);
    expect(merged.backends).toBe(source);
    expect(merged.waiting.size).toBe(0);
  });
});

describe('podAddress', () => {
  it('brackets IPv6 addresses as the Endpoints are written', () => {
    expect(podAddress('10.0.0.1', 8013)).toBe('10.0.0.1:8013');
    expect(podAddress('fd00::1', 8012)).toBe('[fd00::1]:8012');
  });
});

describe('Announcements', () => {
  const setup = (options: { ttlMs?: number; maxPods?: number } = {}) => {
    const clock = new FakeClock(1000);
    const reports: Array<[string, RevisionBackends | undefined]> = [];
    const reprobed: string[] = [];
    const announcements = new Announcements(
      {
        revisionChanged: (key, b) => reports.push([key, b]),
        podAnnounced: (key, address) => reprobed.push(`${key} ${address}`),
      },
      { clock, log: createLogger('test'), ttlMs: 10_000, ...options },
    );
    return { clock, reports, reprobed, announcements, last: () => reports.at(-1) };
  };

  it('passes reports on, and an announced pod of a known revision at its port until the Endpoints list it', () => {
    const { reports, reprobed, announcements, last } = setup();
    announcements.revisionChanged('ns/a', backends([]));
    expect(last()).toEqual(['ns/a', backends([])]);

    expect(announcements.announce('ns/a', '10.0.0.7')).toBe('accepted');
    expect(last()).toEqual(['ns/a', backends(['10.0.0.7:8012'], { notReady: ['10.0.0.7:8012'] })]);
    expect(announcements.announce('ns/a', '10.0.0.7')).toBe('known');
    const count = reports.length;

    // The Endpoints list it, not ready then ready: they rule from then on, its removal included.
    announcements.revisionChanged('ns/a', backends(['10.0.0.7:8012'], { notReady: ['10.0.0.7:8012'] }));
    expect(last()).toEqual(['ns/a', backends(['10.0.0.7:8012'], { notReady: ['10.0.0.7:8012'] })]);
    announcements.revisionChanged('ns/a', backends([]));
    expect(last()).toEqual(['ns/a', backends([])]);
    expect(reports.length).toBe(count + 2);
    expect(announcements.announce('ns/a', '10.0.0.8')).toBe('accepted');
    announcements.revisionChanged('ns/a', backends(['10.0.0.8:8012']));
    expect(announcements.announce('ns/a', '10.0.0.8')).toBe('known');
    // A pod known already, announced or listed, is probed again at once: it says it is ready now.
    expect(reprobed).toEqual(['ns/a 10.0.0.7:8012', 'ns/a 10.0.0.8:8012']);
  });

  it('forgets an announced pod its Endpoints never list after the TTL, reporting the revision without it', () => {
    const { clock, announcements, last } = setup();
    announcements.revisionChanged('ns/a', backends(['10.0.0.1:8012']));
    announcements.announce('ns/a', '10.0.0.7');
    clock.advance(5000);
    announcements.announce('ns/a', '10.0.0.8');
    clock.advance(4999);
    expect(last()?.[1]?.pods).toEqual(['10.0.0.1:8012', '10.0.0.7:8012', '10.0.0.8:8012']);
    clock.advance(1);
    expect(last()?.[1]?.pods).toEqual(['10.0.0.1:8012', '10.0.0.8:8012']);
    expect(last()?.[1]?.notReady).toEqual(['10.0.0.8:8012']);
    clock.advance(5000);
    expect(last()).toEqual(['ns/a', backends(['10.0.0.1:8012'])]);
  });

  it('refuses announces for a revision it does not know or that takes none, and beyond its bound', () => {
    const { announcements, reports } = setup({ maxPods: 2 });
    expect(announcements.announce('ns/a', '10.0.0.7')).toBe('unknown-revision');
    announcements.revisionChanged('ns/static', { containerConcurrency: 0, timeoutMs: 1000, pods: [] });
    expect(announcements.announce('ns/static', '10.0.0.7')).toBe('unknown-revision');
    announcements.revisionChanged('ns/a', backends([]));
    announcements.revisionChanged('ns/b', backends([]));
    expect(announcements.announce('ns/a', '10.0.0.1')).toBe('accepted');
    expect(announcements.announce('ns/b', '10.0.0.2')).toBe('accepted');
    expect(announcements.announce('ns/b', '10.0.0.3')).toBe('full');
    // A revision that goes away takes its announced pods with it, freeing room.
    announcements.revisionChanged('ns/a', undefined);
    expect(reports.at(-1)).toEqual(['ns/a', undefined]);
    expect(announcements.announce('ns/a', '10.0.0.1')).toBe('unknown-revision');
    expect(announcements.announce('ns/b', '10.0.0.3')).toBe('accepted');
  });

  it("reaches an h2c revision's pod at the port its source names", () => {
    const { announcements, last } = setup();
    announcements.revisionChanged('ns/h2c', backends([], { announcePort: 8013 }));
    announcements.announce('ns/h2c', 'fd00::9');
    expect(last()?.[1]?.pods).toEqual(['[fd00::9]:8013']);
  });
});
