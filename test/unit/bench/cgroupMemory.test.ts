import { describe, expect, it } from 'vitest';
import { workingSetBytes } from '../../../bench/support/cgroupMemory.ts';

describe('workingSetBytes', () => {
  it("subtracts cgroup v1's total_inactive_file from the usage, as the kubelet does", () => {
    const stat = 'cache 400\nrss 600\ninactive_file 999\ntotal_inactive_file 300\ntotal_active_file 100\n';
    expect(workingSetBytes(1000, stat, 1)).toBe(700);
  });

  it("subtracts cgroup v2's inactive_file", () => {
    expect(workingSetBytes(1000, 'anon 600\nfile 400\ninactive_file 250\nactive_file 150\n', 2)).toBe(750);
  });

  it('never goes below zero', () => {
    expect(workingSetBytes(100, 'inactive_file 250\n', 2)).toBe(0);
  });

  it('names the line it could not find', () => {
    expect(() => workingSetBytes(100, 'inactive_file 1\n', 1)).toThrow(/no total_inactive_file line/);
  });
});
