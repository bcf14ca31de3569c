import type { KubernetesObject } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Controller, type EventSource, type Leadership, type ReconcileResult } from '../../../lib/controller.ts';
import type { EventHandlers } from '../../../lib/kube/informer.ts';
import type { LeaderCallbacks } from '../../../lib/kube/leaderElection.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

/** Lets pending promise callbacks (worker loops, reconciles) run; no timers involved. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

class FakeSource implements EventSource<KubernetesObject> {
  handlers: EventHandlers<KubernetesObject>[] = [];
  #synced!: () => void;
  readonly #whenSynced = new Promise<void>((resolve) => {
    this.#synced = resolve;
  });
  addHandlers(handlers: EventHandlers<KubernetesObject>): void {
    this.handlers.push(handlers);
  }
  whenSynced(): Promise<void> {
    return this.#whenSynced;
  }
  sync(): void {
    this.#synced();
  }
  add(namespace: string, name: string): void {
    for (const h of this.handlers) h.onAdd?.({ metadata: { namespace, name } });
  }
}

class FakeLeadership implements Leadership {
  leading = false;
  listeners: LeaderCallbacks[] = [];
  isLeader(): boolean {
    return this.leading;
  }
  subscribe(callbacks: LeaderCallbacks): () => void {
    this.listeners.push(callbacks);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== callbacks);
    };
  }
  async set(leading: boolean): Promise<void> {
    this.leading = leading;
    await Promise.all(this.listeners.map((l) => (leading ? l.onStartedLeading?.() : l.onStoppedLeading?.())));
  }
}

function setup(reconcile: (key: string) => Promise<ReconcileResult | void>, leadership?: Leadership) {
  const clock = new FakeClock();
  const registry = new Registry();
  const source = new FakeSource();
  const controller = new Controller({ name: 'things', reconcile, registry, clock, leadership, workers: 2 });
  controller.watch(source);
  return { clock, registry, source, controller };
}

async function reconcileCount(registry: Registry, result: string): Promise<number | undefined> {
  const { values } = await registry.getSingleMetric('controller_reconcile_total')!.get();
  return values.find((v) => v.labels.controller === 'things' && v.labels.result === result)?.value;
}

describe('Controller', () => {
  it('starts reconciling only after its sources have synced, with namespace/name keys', async () => {
    const seen: string[] = [];
    const { source, controller } = setup(async (key) => {
      seen.push(key);
    });
    const started = controller.start();
    source.add('ns', 'a');
    await settle();
    expect(seen).toEqual([]);
    source.sync();
    await started;
    await settle();
    expect(seen).toEqual(['ns/a']);
    await controller.stop();
  });

  it('retries a failing key with growing backoff and counts results', async () => {
    let calls = 0;
    const { source, controller, clock, registry } = setup(async () => {
      calls++;
      if (calls <= 2) throw new Error('not yet');
    });
    source.sync();
    await controller.start();
    source.add('ns', 'a');
    await settle();
    expect(calls).toBe(1);
    clock.advance(4);
    await settle();
    expect(calls).toBe(1);
    clock.advance(1);
    await settle();
    expect(calls).toBe(2);
    clock.advance(9);
    await settle();
    expect(calls).toBe(2);
    clock.advance(1);
    await settle();
    expect(calls).toBe(3);
    expect(controller.queue.numRequeues('ns/a')).toBe(0);
    expect(await reconcileCount(registry, 'error')).toBe(2);
    expect(await reconcileCount(registry, 'success')).toBe(1);
    await controller.stop();
  });

  it('requeues after requeueAfterMs', async () => {
    let calls = 0;
    const { source, controller, clock, registry } = setup(async () => {
      calls++;
      return calls === 1 ? { requeueAfterMs: 30_000 } : undefined;
    });
    source.sync();
    await controller.start();
    source.add('ns', 'a');
    await settle();
    clock.advance(29_999);
    await settle();
    expect(calls).toBe(1);
    clock.advance(1);
    await settle();
    expect(calls).toBe(2);
    expect(await reconcileCount(registry, 'requeue')).toBe(1);
    await controller.stop();
  });

  it('never reconciles one key in two workers at once', async () => {
    let running = 0;
    let maxRunning = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { source, controller } = setup(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gate;
      running--;
    });
    source.sync();
    await controller.start();
    source.add('ns', 'a');
    await settle();
    source.add('ns', 'a');
    await settle();
    expect(running).toBe(1);
    release();
    await settle();
    expect(maxRunning).toBe(1);
    await controller.stop();
  });

  it('reconciles only while leading; keys added meanwhile wait for the next term', async () => {
    const leadership = new FakeLeadership();
    const seen: string[] = [];
    const { source, controller } = setup(async (key) => {
      seen.push(key);
    }, leadership);
    source.sync();
    await controller.start();
    source.add('ns', 'a');
    await settle();
    expect(seen).toEqual([]);
    await leadership.set(true);
    await settle();
    expect(seen).toEqual(['ns/a']);
    await leadership.set(false);
    source.add('ns', 'b');
    await settle();
    expect(seen).toEqual(['ns/a']);
    await leadership.set(true);
    await settle();
    expect(seen).toEqual(['ns/a', 'ns/b']);
    await controller.stop();
    expect(leadership.listeners).toEqual([]);
  });
});
