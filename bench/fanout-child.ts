/**
 * The bench process's handle on a server child (bench/fanout-server.ts): forks it with tsx, waits
 * for `ready`, and measures it from outside — CPU of the server and its redis-server from
 * /proc/<pid>/stat, because a saturated server would answer IPC questions late and over a skewed
 * window; only the event-loop utilisation comes over IPC (sampled in the child with timestamps).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { childPids, procCpuSeconds } from './bench-kit.js';
import type { ChildMessage, ParentMessage, ServerMode } from './fanout-server.js';

const CHILD_START_TIMEOUT_MS = 60_000;
const CHILD_STOP_TIMEOUT_MS = 15_000;

export interface ServerUsage {
  /** CPU of the server process over the window, in cores (1 = one core fully used). */
  serverCores: number;
  /** Share of the window the server's event loop was busy (1 = never idle); null if unknown. */
  serverElu: number | null;
  /** CPU of its redis-server over the window, in cores; null for the baseline. */
  redisCores: number | null;
}

/** A server child process: IPC for the event loop, /proc for CPU. */
export interface Child {
  url: string;
  wsUrl: string;
  cpuSeconds(): { server: number; redis: number | null };
  eluBetween(fromEpochMs: number, toEpochMs: number): Promise<number | null>;
  /** The raw relay only: pause (true) or resume relaying. */
  drop(on: boolean): void;
  stop(): Promise<void>;
}

export interface ChildOptions {
  root: string;
  jwtSecret: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs: string[];
}

export function startChild(mode: ServerMode, opts: ChildOptions): Promise<Child> {
  const child: ChildProcess = fork(resolve(opts.root, 'bench/fanout-server.ts'), [mode], {
    cwd: opts.root,
    execArgv: ['--import', 'tsx', ...opts.nodeArgs],
    env: { ...process.env, BENCH_JWT_SECRET: opts.jwtSecret },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${mode} server did not start in time`)), CHILD_START_TIMEOUT_MS);
    child.once('exit', (code) => fail(new Error(`${mode} server exited early (${code})`)));
    child.on('message', (msg: ChildMessage) => {
      if (msg.type === 'error') fail(new Error(`${mode} server failed: ${msg.message}`));
      if (msg.type !== 'ready') return;
      clearTimeout(timer);
      const pid = child.pid!;
      const redisPid = childPids(pid)[0] ?? null;
      ok({
        url: msg.url,
        wsUrl: msg.wsUrl,
        cpuSeconds: () => ({ server: procCpuSeconds(pid) ?? Number.NaN, redis: redisPid === null ? null : procCpuSeconds(redisPid) }),
        eluBetween: (from, to) =>
          new Promise((got) => {
            const onMsg = (m: ChildMessage) => {
              if (m.type !== 'elu') return;
              child.off('message', onMsg);
              got(m.utilization);
            };
            child.on('message', onMsg);
            child.send({ type: 'elu', from, to } satisfies ParentMessage);
          }),
        drop: (on) => void child.send({ type: 'drop', on } satisfies ParentMessage),
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.send({ type: 'stop' } satisfies ParentMessage);
          const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}
