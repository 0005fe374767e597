/**
 * A redis-server child process on 127.0.0.1 and a free port: the default run uses it when no
 * REDIS_URL is given (data kept under a directory, append-only so restarts keep rooms and
 * orders), and the tests start their own so they never touch a shared Redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export interface EmbeddedRedis {
  url: string;
  port: number;
  /** The redis-server process id (tests freeze it with SIGSTOP to simulate a stalled Redis). */
  pid: number;
  stop(): Promise<void>;
}

export class RedisBinaryMissing extends Error {
  constructor() {
    super(
      'redis-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install redis-server`) ' +
        'or point the server at an existing Redis with REDIS_URL=redis://host:6379.',
    );
  }
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

export function findRedisServer(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

export async function startEmbeddedRedis(opts: { dataDir?: string; persist: boolean }): Promise<EmbeddedRedis> {
  const bin = findRedisServer();
  if (!bin) throw new RedisBinaryMissing();
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--protected-mode', 'yes'];
  if (opts.persist && opts.dataDir) {
    const dir = resolve(opts.dataDir);
    mkdirSync(dir, { recursive: true });
    args.push('--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec');
  } else {
    args.push('--appendonly', 'no');
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitReady(child);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((ok, fail) => {
    let out = '';
    const onData = (buf: Buffer) => {
      out += buf.toString();
      if (out.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining so the pipe never blocks the child
        ok();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.resume();
    child.once('exit', (code) => fail(new Error(`redis-server exited with ${code} before it was ready:\n${out.slice(-2000)}`)));
    child.once('error', fail);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    child.once('exit', () => ok());
    child.kill('SIGTERM'); // redis flushes its append-only file on SIGTERM
  });
}
