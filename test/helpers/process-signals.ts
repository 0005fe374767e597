/** Freezing and thawing a process (a stalled Redis) for tests, confirmed by the kernel. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

/** Linux process state letter from /proc (T = stopped). */
const procState = (pid: number): string => /\) (\S) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '?';

/** Send the signal and return once the kernel reports the new state (no guessing with sleeps). */
export async function signalAndConfirm(pid: number, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
  process.kill(pid, signal);
  const stopped = signal === 'SIGSTOP';
  for (let i = 0; i < 10_000 && (procState(pid) === 'T') !== stopped; i++) await new Promise((ok) => setImmediate(ok));
  expect(procState(pid) === 'T').toBe(stopped);
}
