/**
 * Test stack: a private Redis on free ports (never the shared 6379) — one redis-server, or a real
 * 3-master Redis Cluster when env TEST_REDIS=cluster — and one or more real servers on it, in this
 * process or as separate OS processes. Everything is real.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startTestRedis, type TestRedis, type Topology } from './test-redis.js';

export const TEST_SECRET = 'test-secret-test-secret-0123456789';

/** Media is off unless a test asks for it (MEDIA_ENABLED: 'true'): other tests need no worker
 * processes. When on, free ports (MEDIA_PORT_BASE 0) so parallel test files never collide. */
export function testConfig(overrides: Partial<Record<keyof Config, string>> = {}): Config {
  return loadConfig(
    {},
    {
      JWT_SECRET: TEST_SECRET,
      DEV_TOKENS: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      MEDIA_ENABLED: 'false',
      MEDIA_WORKERS: '1',
      MEDIA_PORT_BASE: '0',
      MEDIA_RTC_MIN_PORT: '20000',
      MEDIA_RTC_MAX_PORT: '32000',
      // Every test client comes from 127.0.0.1 and many tests act as hundreds of users from it:
      // the HTTP limits are tested on their own (test/caps.test.ts) and are out of the way here.
      HTTP_PER_MIN_USER: '0',
      HTTP_PER_MIN_IP: '0',
      // Likewise a test's host opens a room per case; the cap is tested in test/caps.test.ts.
      ROOMS_PER_USER: '100000',
      ...overrides,
    },
  );
}

export interface Stack {
  redis: TestRedis;
  servers: RunningServer[];
  url: string;
  stop(): Promise<void>;
}

/** `topology`: by default env TEST_REDIS's (see test-redis.ts). */
export async function startStack(opts: { nodes?: number; config?: Partial<Record<keyof Config, string>>; topology?: Topology } = {}): Promise<Stack> {
  const redis = await startTestRedis(opts.topology);
  const servers: RunningServer[] = [];
  try {
    for (let i = 0; i < (opts.nodes ?? 1); i++) {
      const config = testConfig(opts.config);
      servers.push(await startServer(config, redis.target, createLogger(config.LOG_LEVEL)));
    }
  } catch (err) {
    // Don't leave a redis-server orphaned when a server fails to start.
    for (const s of servers) await s.close().catch(() => undefined);
    await redis.stop();
    throw err;
  }
  return {
    redis,
    servers,
    url: servers[0]!.url,
    async stop() {
      for (const s of servers) await s.close();
      await redis.stop();
    },
  };
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The node flags the production start uses (package.json `start`, the Dockerfile's CMD), so
 * multi-process tests and benchmarks run the server as it is deployed. */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=64'];

/** TEST_SERVER_LOGS=<dir>: every spawned server's output also goes to <dir>/server-<pid>.log,
 * for reading what a node did (its drain, say) after a failed multi-node test. */
function keepServerLog(child: ChildProcess): void {
  const dir = process.env.TEST_SERVER_LOGS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const file = createWriteStream(join(dir, `server-${child.pid}.log`));
  child.stdout!.on('data', (b: Buffer) => file.write(b));
  child.stderr!.on('data', (b: Buffer) => file.write(b));
  child.once('exit', () => file.end());
}

/** A server as its own OS process (src/main.ts via tsx), for multi-node tests. `redis`: a URL of
 * one Redis, or a TestRedis of either topology. */
export function spawnServerProcess(redis: string | TestRedis, env: Record<string, string> = {}): Promise<ServerProcess> {
  const redisEnv = typeof redis === 'string' ? { REDIS_URL: redis } : redis.env;
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, '--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      ...redisEnv,
      JWT_SECRET: TEST_SECRET,
      DEV_TOKENS: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      MEDIA_ENABLED: 'false',
      HTTP_PER_MIN_USER: '0',
      HTTP_PER_MIN_IP: '0',
      ROOMS_PER_USER: '100000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  keepServerLog(child);
  return new Promise((ok, fail) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const readUrl = (b: Buffer) => {
      out += b.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*listening/.exec(out);
      if (m?.[1]) {
        child.stdout!.off('data', readUrl);
        child.stdout!.resume();
        ok({
          url: m[1],
          child,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout!.on('data', readUrl);
    child.once('exit', (code) => fail(new Error(`server process exited (${code}):\n${out}\n${err}`)));
  });
}
