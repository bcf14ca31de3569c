import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';
import { ItemExponentialBackoff } from '../../../lib/workqueue/backoff.ts';
import { WorkQueue } from '../../../lib/workqueue/queue.ts';

function newQueue(clock = new FakeClock()) {
  const registry = new Registry();
  return { queue: new WorkQueue({ name: 'test', registry, clock }), registry, clock };
}

async function metricValue(registry: Registry, name: string, suffix = ''): Promise<number | undefined> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return values.find(
    (v) => v.labels.name === 'test' && ((v as { metricName?: string }).metricName ?? name) === `${name}${suffix}`,
  )?.value;
}

describe('WorkQueue', () => {
  it('does not duplicate a key added while it is queued, and keeps arrival order', async () => {
    const { queue } = newQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(queue.length).toBe(0);
  });

  it('holds back a key added while a worker has it until done(), then hands it out once', async () => {
    const { queue } = newQueue();
    queue.add('a');
    const held = await queue.get();
    queue.add('a');
    queue.add('a');
    expect(queue.length).toBe(0);
    queue.done(held!);
    expect(queue.length).toBe(1);
    expect(await queue.get()).toBe('a');
    queue.done('a');
    expect(queue.length).toBe(0);
  });

  it('never gives one key to two waiting workers at once', async () => {
    const { queue } = newQueue();
    const first = queue.get();
    const second = queue.get();
    queue.add('a');
    expect(await first).toBe('a');
    queue.add('a');
    queue.add('b');
    expect(await second).toBe('b');
    queue.done('a');
    expect(await queue.get()).toBe('a');
  });

  it('addAfter adds the key only when the clock reaches the delay, and the earliest delay wins', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('a', 100);
    queue.addAfter('a', 50);
    queue.addAfter('a', 500);
    clock.advance(49);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(queue.length).toBe(1);
    clock.advance(1000);
    expect(queue.length).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('addAfter caps a delay past what node timers keep, so a far-off requeue does not fire at once', async () => {
    const { queue, clock } = newQueue();
    const sixtyDays = 60 * 24 * 3_600_000;
    queue.addAfter('renew', sixtyDays);
    clock.advance(2 ** 31 - 2);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(queue.length).toBe(1);
  });

  it('addRateLimited backs off per key from 5 ms, doubling, until forget()', async () => {
    const { queue, clock, registry } = newQueue();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const before = clock.now();
      queue.addRateLimited('a');
      let waited = 0;
      while (queue.length === 0 && waited < 1000) {
        clock.advance(1);
        waited++;
      }
      delays.push(clock.now() - before);
      queue.done((await queue.get())!);
    }
    expect(delays).toEqual([5, 10, 20, 40]);
    expect(queue.numRequeues('a')).toBe(4);
    expect(queue.numRequeues('b')).toBe(0);
    queue.forget('a');
    expect(queue.numRequeues('a')).toBe(0);
    expect(await metricValue(registry, 'workqueue_retries_total')).toBe(4);
  });

  it('shutDown drops delayed keys, lets workers finish queued and held keys, then yields undefined', async () => {
    const { queue, clock } = newQueue();
    queue.add('a');
    queue.add('b');
    queue.addAfter('later', 10);
    const held = await queue.get();
    let drained = false;
    const shutdown = queue.shutDown().then(() => {
      drained = true;
    });
    queue.add('c');
    clock.advance(10);
    expect(await queue.get()).toBe('b');
    queue.done(held!);
    await Promise.resolve();
    expect(drained).toBe(false);
    queue.done('b');
    await shutdown;
    expect(drained).toBe(true);
    expect(await queue.get()).toBeUndefined();
  });

  it('wakes an idle worker with undefined on shutDown, and on abort of its signal', async () => {
    const { queue } = newQueue();
    const abort = new AbortController();
    const aborted = queue.get(abort.signal);
    abort.abort();
    expect(await aborted).toBeUndefined();
    const idle = queue.get();
    await queue.shutDown();
    expect(await idle).toBeUndefined();
  });

  it('reports depth, adds and time spent queued and processing under client-go metric names', async () => {
    const { queue, clock, registry } = newQueue();
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(await metricValue(registry, 'workqueue_depth')).toBe(2);
    expect(await metricValue(registry, 'workqueue_adds_total')).toBe(2);
    clock.advance(2000);
    const key = await queue.get();
    clock.advance(500);
    queue.done(key!);
    expect(await metricValue(registry, 'workqueue_depth')).toBe(1);
    expect(await metricValue(registry, 'workqueue_queue_duration_seconds', '_sum')).toBe(2);
    expect(await metricValue(registry, 'workqueue_work_duration_seconds', '_sum')).toBe(0.5);
  });

  it('lets two queues share one registry, told apart by the name label', () => {
    const registry = new Registry();
    new WorkQueue({ name: 'one', registry });
    expect(() => new WorkQueue({ name: 'two', registry })).not.toThrow();
    expect(registry.getSingleMetric('workqueue_depth')).toBeDefined();
  });
});

describe('ItemExponentialBackoff', () => {
  it('caps the delay at 1000 s', () => {
    const backoff = new ItemExponentialBackoff();
    const delays = Array.from({ length: 40 }, () => backoff.when('k'));
    expect(delays[0]).toBe(5);
    expect(delays[17]).toBe(5 * 2 ** 17);
    expect(delays[18]).toBe(1_000_000);
    expect(delays[39]).toBe(1_000_000);
  });
});
