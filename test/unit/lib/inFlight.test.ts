// lib/http/inFlight.ts on a fake clock: the count the drain waits on, and the order of the drain's
// last phase (stop accepting, wait within the timeout, close everything) whether or not it times out.
import { describe, expect, it } from 'vitest';
import { finishInFlight, InFlight } from '../../../lib/http/inFlight.ts';
import type { Logger } from '../../../lib/log.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function recordingLog(lines: string[]): Logger {
  const log: Logger = {
    debug: () => {},
    info: () => {},
    warn: (msg, fields) => lines.push(`warn ${msg} ${JSON.stringify(fields)}`),
    error: () => {},
    with: () => log,
  };
  return log;
}

function listener(name: string, steps: string[]) {
  return { stopAccepting: () => steps.push(`${name} stops accepting`), closeAll: () => steps.push(`${name} closes`) };
}

describe('InFlight', () => {
  it('counts what began and has not ended, and wakes every waiter when the last one ends', async () => {
    const inFlight = new InFlight();
    let idle = 0;
    await inFlight.whenIdle();
    inFlight.begin();
    inFlight.begin();
    expect(inFlight.open).toBe(2);
    void inFlight.whenIdle().then(() => idle++);
    void inFlight.whenIdle().then(() => idle++);
    inFlight.end();
    await settle();
    expect(idle).toBe(0);
    inFlight.end();
    await settle();
    expect([inFlight.open, idle]).toEqual([0, 2]);
  });
});

describe('finishInFlight', () => {
  it('stops accepting, waits for what is in flight, then closes, and says how many it waited for', async () => {
    const clock = new FakeClock();
    const inFlight = new InFlight();
    const steps: string[] = [];
    const warnings: string[] = [];
    inFlight.begin();
    const finished = finishInFlight(inFlight, [listener('a', steps), listener('b', steps)], {
      clock,
      timeoutMs: 1000,
      log: recordingLog(warnings),
    }).then((open) => steps.push(`finished with ${open} open`));
    await settle();
    expect(steps).toEqual(['a stops accepting', 'b stops accepting']);
    clock.advance(999);
    inFlight.end();
    await finished;
    expect(steps).toEqual(['a stops accepting', 'b stops accepting', 'a closes', 'b closes', 'finished with 1 open']);
    expect(warnings).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('closes the connections of requests still in flight at the timeout, and warns how many', async () => {
    const clock = new FakeClock();
    const inFlight = new InFlight();
    const steps: string[] = [];
    const warnings: string[] = [];
    inFlight.begin();
    inFlight.begin();
    const finished = finishInFlight(inFlight, [listener('a', steps)], {
      clock,
      timeoutMs: 1000,
      log: recordingLog(warnings),
    });
    inFlight.end();
    await settle();
    clock.advance(1000);
    expect(await finished).toBe(2);
    expect(steps).toEqual(['a stops accepting', 'a closes']);
    expect(warnings).toEqual(['warn drain timeout: closing connections with requests in progress {"open":1}']);
  });
});
