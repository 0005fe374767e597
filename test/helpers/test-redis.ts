/**
 * The Redis a test runs against, in the topology chosen by env TEST_REDIS: `single` (default) is
 * one private redis-server, `cluster` a real 3-master Redis Cluster. Tests ask this module for
 * the server, for a client of their own (to read Redis directly) and for the env a server
 * process needs, and so run unchanged on either.
 */
import { startEmbeddedRedis } from '../../src/core/embedded-redis.js';
import { createRedisClient, type RedisClient, type RedisTarget } from '../../src/core/redis-client.js';
import { startRedisCluster } from './redis-cluster.js';

export type Topology = 'single' | 'cluster';

export function testTopology(): Topology {
  const v = process.env.TEST_REDIS ?? 'single';
  if (v !== 'single' && v !== 'cluster') throw new Error(`TEST_REDIS must be "single" or "cluster", not "${v}"`);
  return v;
}

/** True when the run is on a Redis Cluster; for `it.skipIf(onCluster)` with a stated reason. */
export const onCluster = testTopology() === 'cluster';

export interface TestRedis {
  topology: Topology;
  /** The one redis-server's URL, port and process id. On a cluster there is no one server: these
   * throw, and a test that needs them (SIGSTOP of "the" Redis) skips under TEST_REDIS=cluster. */
  url: string;
  port: number;
  pid: number;
  target: RedisTarget;
  /** REDIS_URL or REDIS_CLUSTER_NODES, for a server started as its own process. */
  env: Record<string, string>;
  /** A fresh client of the same topology (connected lazily); the caller disconnects it. */
  client(): RedisClient;
  stop(): Promise<void>;
}

export async function startTestRedis(topology: Topology = testTopology()): Promise<TestRedis> {
  if (topology === 'cluster') {
    const cluster = await startRedisCluster(3);
    const target: RedisTarget = { kind: 'cluster', nodes: cluster.nodes };
    const single = (): never => {
      throw new Error('this test needs a single redis-server; skip it under TEST_REDIS=cluster');
    };
    return {
      topology,
      get url() { return single(); },
      get port() { return single(); },
      get pid() { return single(); },
      target,
      env: { REDIS_CLUSTER_NODES: cluster.spec },
      client: () => clientOf(target),
      stop: cluster.stop,
    };
  }
  const redis = await startEmbeddedRedis({ persist: false });
  const target: RedisTarget = { kind: 'single', url: redis.url };
  return { topology, url: redis.url, port: redis.port, pid: redis.pid, target, env: { REDIS_URL: redis.url }, client: () => clientOf(target), stop: redis.stop };
}

/** Tests read directly, so no command timeout: a slow shared machine must not fail a read. */
function clientOf(target: RedisTarget): RedisClient {
  const client = createRedisClient(target, { commandTimeoutMs: 0, name: 'test' });
  // lazyConnect: the first command connects (and on a cluster loads the slot map).
  return client;
}
