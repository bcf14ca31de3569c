// holdUpgrade: an upgrade waits in a breaker by the same rules as a request (lib/http/heldRequest.ts):
// admitted at once or when a slot frees, 504 at the response deadline counted from arrival, 499
// when its client leaves, 503 when the queue is full; a refused upgrade leaves the queue.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Breaker } from '../../../lib/breaker.ts';
import { holdUpgrade } from '../../../lib/http/upgrade.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

const RESPONSE_MS = 1000;

/** A client socket whose written bytes the test reads. */
function client(): { socket: PassThrough; written: () => string } {
  const socket = new PassThrough();
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  return { socket, written: () => text };
}

function hold(breaker: Breaker | undefined, clock: FakeClock, arrivedAt = clock.now()) {
  const { socket, written } = client();
  const outcome: { admitted: number; refused: number[] } = { admitted: 0, refused: [] };
  holdUpgrade(socket, {
    breaker,
    responseMs: RESPONSE_MS,
    arrivedAt,
    clock,
    admitted: () => outcome.admitted++,
    refused: (status) => outcome.refused.push(status),
  });
  return { socket, written, outcome };
}

describe('holdUpgrade', () => {
  it('admits at once without a breaker, or with a free slot', () => {
    const clock = new FakeClock(0);
    expect(hold(undefined, clock).outcome).toEqual({ admitted: 1, refused: [] });
    const breaker = new Breaker(1, 1);
    expect(hold(breaker, clock).outcome).toEqual({ admitted: 1, refused: [] });
    expect(breaker.active).toBe(1);
  });

  it('admits a queued upgrade when a slot frees before its deadline, and no timeout fires after', () => {
    const clock = new FakeClock(0);
    const breaker = new Breaker(1, 1);
    hold(breaker, clock);
    const queued = hold(breaker, clock);
    clock.advance(RESPONSE_MS / 2);
    breaker.release();
    clock.advance(RESPONSE_MS);
    expect(queued.outcome).toEqual({ admitted: 1, refused: [] });
    expect(queued.written()).toBe('');
  });

  it('answers 504 at the deadline counted from arrival, and leaves the queue', async () => {
    const clock = new FakeClock(0);
    const breaker = new Breaker(1, 1);
    hold(breaker, clock);
    clock.advance(RESPONSE_MS / 2);
    // It arrived before the time it reached the breaker: its deadline is RESPONSE_MS after arrival.
    const queued = hold(breaker, clock, 0);
    clock.advance(RESPONSE_MS / 2 - 1);
    expect(queued.outcome.refused).toEqual([]);
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(queued.outcome).toEqual({ admitted: 0, refused: [504] });
    expect(queued.written()).toMatch(/^HTTP\/1\.1 504 Gateway Timeout\r\n[\s\S]*\r\n\r\nrequest timeout$/);
    expect(breaker.queued).toBe(0);
  });

  it('gives its place back with 499 when its client leaves while queued', async () => {
    const clock = new FakeClock(0);
    const breaker = new Breaker(1, 1);
    hold(breaker, clock);
    const queued = hold(breaker, clock);
    queued.socket.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(queued.outcome).toEqual({ admitted: 0, refused: [499] });
    expect(breaker.queued).toBe(0);
    clock.advance(RESPONSE_MS);
    expect(queued.outcome.refused).toEqual([499]);
  });

  it('answers 503 when the queue is full', async () => {
    const clock = new FakeClock(0);
    const breaker = new Breaker(1, 0);
    hold(breaker, clock);
    const rejected = hold(breaker, clock);
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejected.outcome).toEqual({ admitted: 0, refused: [503] });
    expect(rejected.written()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*pending request queue full$/);
  });
});
