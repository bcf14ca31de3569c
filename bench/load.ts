// A bounded HTTP load generator on undici, for loopback benchmarks: every run stops at a
// request count or a duration, whichever comes first.
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

export interface LoadResult {
  requests: number;
  errors: number;
  durationMs: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface Bounds {
  maxRequests: number;
  maxDurationMs: number;
}

/** Latency figures of count requests (their latencies in ms, unsorted) over durationMs. */
export function summarise(latencies: Float64Array, count: number, errors: number, durationMs: number): LoadResult {
  const sorted = latencies.slice(0, count).sort();
  const at = (q: number) => (count === 0 ? 0 : sorted[Math.min(count - 1, Math.floor(q * count))]!);
  return {
    requests: count,
    errors,
    durationMs,
    requestsPerSecond: count / (durationMs / 1000),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: count === 0 ? 0 : sorted[count - 1]!,
  };
}

async function once(pool: Pool, path: string): Promise<boolean> {
  const res = await pool.request({ path, method: 'GET' });
  await res.body.dump();
  return res.statusCode === 200;
}

/** `concurrency` workers, each sending its next request when the previous one is answered. */
export async function closedLoop(
  origin: string,
  path: string,
  concurrency: number,
  bounds: Bounds,
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections: concurrency });
  const latencies = new Float64Array(bounds.maxRequests);
  let issued = 0;
  let count = 0;
  let errors = 0;
  const startedAt = performance.now();
  const worker = async () => {
    while (issued < bounds.maxRequests && performance.now() - startedAt < bounds.maxDurationMs) {
      issued++;
      const sentAt = performance.now();
      const ok = await once(pool, path).catch(() => false);
      if (ok) latencies[count++] = performance.now() - sentAt;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const durationMs = performance.now() - startedAt;
  await pool.close();
  return summarise(latencies, count, errors, durationMs);
}

/** Requests sent on a fixed schedule of `rate` per second, whatever the latency (open loop). */
export async function fixedRate(origin: string, path: string, rate: number, bounds: Bounds): Promise<LoadResult> {
  const pool = new Pool(origin, { connections: 64 });
  const latencies = new Float64Array(bounds.maxRequests);
  let issued = 0;
  let count = 0;
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const startedAt = performance.now();
  const send = () => {
    const sentAt = performance.now();
    const p: Promise<void> = once(pool, path)
      .catch(() => false)
      .then((ok) => {
        if (ok) latencies[count++] = performance.now() - sentAt;
        else errors++;
        inFlight.delete(p);
      });
    inFlight.add(p);
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - startedAt;
      if (issued >= bounds.maxRequests || elapsed >= bounds.maxDurationMs) return resolve();
      const due = Math.min(bounds.maxRequests, Math.floor((elapsed / 1000) * rate));
      while (issued < due) {
        issued++;
        send();
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inFlight);
  const durationMs = performance.now() - startedAt;
  await pool.close();
  return summarise(latencies, count, errors, durationMs);
}

// USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux whatever the kernel tick.
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5), counted from the state field, which is field 3.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

export interface MemoryMiB {
  rss: number;
  /** Pages no other process maps (USS): what one more such process adds to the machine. */
  private: number;
  /** Pages backed by files, the node binary's code and data most of all. */
  fileBacked: number;
}

/** A process's resident memory in MiB, split as /proc/<pid>/smaps_rollup reports it. */
export function memoryMiB(pid: number): MemoryMiB {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  return {
    rss: kB('Rss') / 1024,
    private: (kB('Private_Clean') + kB('Private_Dirty')) / 1024,
    fileBacked: (kB('Rss') - kB('Anonymous')) / 1024,
  };
}

/** Each figure at its larger of the two. */
export const peakMemory = (a: MemoryMiB, b: MemoryMiB): MemoryMiB => ({
  rss: Math.max(a.rss, b.rss),
  private: Math.max(a.private, b.private),
  fileBacked: Math.max(a.fileBacked, b.fileBacked),
});

/** Resident set size of a process in MiB. */
export function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}
