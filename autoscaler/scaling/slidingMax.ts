// The largest value recorded over a trailing time window, used to hold scale-downs back for
// scale-down-delay (upstream pkg/autoscaler/aggregation/max).

interface Entry {
  slot: number;
  value: number;
}

/**
 * Keeps only the values that can still become the maximum: each entry is newer and smaller
 * than the one before it, so the front is the maximum and expiry only ever trims the front.
 */
export class SlidingMax {
  private readonly slotMs: number;
  private readonly slots: number;
  private entries: Entry[] = [];

  /** A window of ceil(windowMs / slotMs) slots; values recorded within one slot are merged. */
  constructor(windowMs: number, slotMs: number) {
    this.slotMs = slotMs;
    this.slots = Math.ceil(windowMs / slotMs);
  }

  /** Times must not go backwards. */
  record(atMs: number, value: number): void {
    const slot = Math.floor(atMs / this.slotMs);
    while (this.entries.length > 0 && this.entries.at(-1)!.value <= value) this.entries.pop();
    while (this.entries.length > 0 && slot - this.entries[0]!.slot >= this.slots) this.entries.shift();
    // A larger value already recorded in this slot survived the first loop and stands for it.
    if (this.entries.at(-1)?.slot === slot) return;
    this.entries.push({ slot, value });
  }

  /** The maximum over the window that ends at the latest recorded slot; 0 before any record. */
  current(): number {
    return this.entries[0]?.value ?? 0;
  }
}
