/**
 * The multi-process tests' common setup: one private Redis of the run's topology and N servers as
 * their own OS processes on it, and the teardown that closes the test's sockets, stops every
 * process still running (one a test killed has exited already) and the Redis.
 */
import type { RedisClient } from '../../src/core/redis-client.js';
import { closeAllSockets } from './clients.js';
import { spawnServerProcess, type ServerProcess } from './stack.js';
import { startTestRedis, type TestRedis } from './test-redis.js';

export interface ServerProcesses {
  redisServer: TestRedis;
  /** A client of that Redis for the test's own reads. */
  redis: RedisClient;
  nodes: ServerProcess[];
}

export async function startServerProcesses(count: number, env: Record<string, string> = {}): Promise<ServerProcesses> {
  const redisServer = await startTestRedis();
  const nodes = await Promise.all(Array.from({ length: count }, () => spawnServerProcess(redisServer, env)));
  return { redisServer, redis: redisServer.client(), nodes };
}

export async function stopServerProcesses(procs: Partial<ServerProcesses>): Promise<void> {
  closeAllSockets();
  const running = (procs.nodes ?? []).filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  await Promise.all(running.map((n) => n.stop()));
  procs.redis?.disconnect();
  await procs.redisServer?.stop();
}
