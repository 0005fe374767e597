/**
 * CPU time of other processes from /proc (Linux), so the benchmark can measure its server and
 * redis-server processes from outside: asking a saturated server for its own numbers over IPC
 * would be answered late, over a skewed window.
 */
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SEC = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks

/** user+system CPU seconds of a process, or null when /proc is not readable. */
export function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return null;
  }
}

/** Pids of a process's direct children (for the server: its embedded redis-server). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
