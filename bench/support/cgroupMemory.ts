// A container's memory as the kubelet judges it: the working set of its memory cgroup, i.e. the
// usage less the inactive file pages the kernel can drop at once (cAdvisor's
// container_memory_working_set_bytes, what evictions and `kubectl top` go by). It counts what a
// pod adds to the node; a process's RSS also counts the shared pages of the node binary.

/** Usage less inactive file pages, never below 0: `total_inactive_file` on cgroup v1, `inactive_file` on v2. */
export function workingSetBytes(usageBytes: number, memoryStat: string, version: 1 | 2): number {
  const key = version === 1 ? 'total_inactive_file' : 'inactive_file';
  const inactive = new RegExp(`^${key} (\\d+)$`, 'm').exec(memoryStat)?.[1];
  if (inactive === undefined) throw new Error(`memory.stat has no ${key} line`);
  return Math.max(0, usageBytes - Number(inactive));
}
