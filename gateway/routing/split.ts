// Choosing where a request goes once its path is known: which split (revision) by percent, then
// which endpoint of that split by load. Both run once per request, so both are O(1).

/** A uniform random integer in [0, bound); injected so tests can seed it. */
export type RandomInt = (bound: number) => number;

/**
 * xorshift32. Not Math.random: every Math.random result reached through a function value is a
 * freshly boxed double (16 bytes per call, measured), whereas this keeps its state and results in
 * small integers, which V8 passes around unboxed. The statistical quality is ample for spreading load.
 */
export function xorshiftRandomInt(seed: number): RandomInt {
  let state = seed | 0 || 0x2545f491;
  return (bound) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    // Modulo bias is below bound / 2^32.
    return (state >>> 0) % bound;
  };
}

/**
 * The order in which a path's splits take turns, fixed at table build time.
 *
 * The order is one period of nginx's smooth weighted round-robin, so it is spread out (a 90/10
 * split sends the 10 one at a time, not in a burst) and holds exactly `weight` turns per split in
 * every run of `period` consecutive picks; with Knative's percents (sum 100) every window of 100
 * requests matches the percents exactly. Splits of weight 0 get no turns at all.
 */
export class SplitSchedule {
  readonly weights: readonly number[];
  readonly period: number;
  readonly #order: Uint16Array;
  #cursor = 0;

  private constructor(weights: readonly number[], order: Uint16Array) {
    this.weights = weights;
    this.period = order.length;
    this.#order = order;
  }

  /** Undefined when no split has a positive weight: such a path can send nowhere. */
  static of(weights: readonly number[]): SplitSchedule | undefined {
    const clean = weights.map((w) => (Number.isFinite(w) && w > 0 ? Math.floor(w) : 0));
    const period = clean.reduce((sum, w) => sum + w, 0);
    if (period === 0) return undefined;
    const current = clean.map(() => 0);
    const order = new Uint16Array(period);
    for (let turn = 0; turn < period; turn++) {
      let best = -1;
      for (let i = 0; i < clean.length; i++) {
        current[i]! += clean[i]!;
        // Zero weights stay at 0 while some positive-weight split is above 0, so they never win.
        if (clean[i]! > 0 && (best === -1 || current[i]! > current[best]!)) best = i;
      }
      current[best]! -= period;
      order[turn] = best;
    }
    return new SplitSchedule(clean, order);
  }

  /** Index (into the weights given to `of`) of the split whose turn it is. */
  next(): number {
    const index = this.#order[this.#cursor]!;
    this.#cursor = this.#cursor + 1 === this.period ? 0 : this.#cursor + 1;
    return index;
  }
}

/**
 * One address a split can send to; `inFlight` and the passive health (`ejected`, `ejections`) are
 * kept by the proxy layer and read by the picker.
 */
export interface Upstream {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  inFlight: number;
  /** Refused a connection lately: picked only when no endpoint of the split is healthy. */
  ejected: boolean;
  /** Ejections in a row without a response in between; each lasts longer. */
  ejections: number;
}

/**
 * Power of two choices: compare two distinct endpoints drawn at random and take the less loaded.
 * Close to least-loaded in effect without scanning every endpoint, and, unlike strict
 * least-loaded, does not herd every new request onto the one endpoint that just became idle.
 * Ties go to the first draw. An ejected endpoint, whose in-flight count stays 0 because it refuses
 * every connection, loses to any healthy one; when both draws are ejected the first healthy
 * endpoint after them is taken, and only a split with none left healthy sends to an ejected one
 * (Envoy's panic mode: a guess beats certain failure). `upstreams` must not be empty.
 */
export function pickUpstream(upstreams: readonly Upstream[], randomInt: RandomInt): number {
  const count = upstreams.length;
  if (count === 1) return 0;
  const first = randomInt(count);
  let second = randomInt(count - 1);
  if (second >= first) second++;
  const a = upstreams[first]!;
  const b = upstreams[second]!;
  if (a.ejected !== b.ejected) return a.ejected ? second : first;
  if (a.ejected) {
    for (let i = 1; i < count; i++) {
      const at = (first + i) % count;
      if (!upstreams[at]!.ejected) return at;
    }
  }
  return b.inFlight < a.inFlight ? second : first;
}
