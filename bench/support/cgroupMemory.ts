// A container's memory as the kubelet judges it: the working set of its memory cgroup, i.e. the
// usage less the inactive file pages the kernel can drop at once (cAdvisor's
// container_memory_working_set_bytes, what evictions and `kubectl top` go by). It counts what a
// pod adds to the node; a process's RSS also counts the shared pages of the node binary.
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** Usage less inactive file pages, never below 0: `total_inactive_file` on cgroup v1, `inactive_file` on v2. */
export function workingSetBytes(usageBytes: number, memoryStat: string, version: 1 | 2): number {
  const key = version === 1 ? 'total_inactive_file' : 'inactive_file';
  const inactive = new RegExp(`^${key} (\\d+)$`, 'm').exec(memoryStat)?.[1];
  if (inactive === undefined) throw new Error(`memory.stat has no ${key} line`);
  return Math.max(0, usageBytes - Number(inactive));
}

/** A cgroup v1 memory cgroup of this benchmark's own, for one process at a time. */
export interface MemoryCgroup {
  /** `command args` started inside the cgroup, as spawn's file and arguments. */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** The working set now, in MiB. */
  workingSetMiB(): number;
  remove(): void;
}

const V1_MEMORY = '/sys/fs/cgroup/memory';

/**
 * A child of the memory cgroup this process is in (cgroup v1, as the local cluster's kubelet
 * uses), so a process in it is measured as a container is; undefined where that cannot be made
 * (not root, no v1 memory controller): the caller then reports RSS only.
 */
export function createMemoryCgroup(name: string): MemoryCgroup | undefined {
  const own = /^\d+:memory:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  if (own === undefined || !existsSync(V1_MEMORY)) return undefined;
  const dir = join(V1_MEMORY, own, `${name}-${process.pid}`);
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return {
    // The shell joins the cgroup, then becomes the command: every page the command touches is charged here.
    wrap: (command, args) => ['sh', ['-c', 'echo $$ > "$0" && exec "$@"', join(dir, 'cgroup.procs'), command, ...args]],
    workingSetMiB: () => workingSetBytes(Number(read('memory.usage_in_bytes')), read('memory.stat'), 1) / 2 ** 20,
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // A process still in it keeps it; the kernel frees it with that process's exit and the next run's rmdir.
      }
    },
  };
}
