// What a process costs, read from /proc (proc(5)): peak and current resident memory, and CPU
// seconds (user + system). Used to set Beacon next to another implementation in one run.

import fs from 'node:fs';

export interface ProcStats {
  /** VmHWM: the peak resident set size, bytes. */
  readonly peakRss: number;
  /** VmRSS: the resident set size now, bytes. */
  readonly rss: number;
  /** utime + stime, seconds. */
  readonly cpuSeconds: number;
}

/** Clock ticks per second for /proc/<pid>/stat; 100 on every Linux this runs on (USER_HZ). */
const ticksPerSecond = 100;

export function procStats(pid: number): ProcStats {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  // Fields after the command name (which may hold spaces) start at the last ')'.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { peakRss: kb('VmHWM'), rss: kb('VmRSS'), cpuSeconds: (utime + stime) / ticksPerSecond };
}

/** p-th percentile (0–100) by nearest rank of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
