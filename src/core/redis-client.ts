/**
 * One way to make a Redis client, for one Redis or a Redis Cluster. Stores and scripts take a
 * `RedisClient` and never care which: every key of a room carries its hash tag, so every command
 * and script stays in one slot either way.
 *
 * Every command has a timeout: a Redis that stops answering (stalled, not dead) must turn into a
 * prompt UNAVAILABLE, never a hang.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { guardOf } from './redis-guard.js';

export type RedisClient = Redis | Cluster;

/** Where Redis is: one server by URL, or the seed nodes of a cluster. */
export type RedisTarget = { kind: 'single'; url: string } | { kind: 'cluster'; nodes: { host: string; port: number }[] };

export interface RedisClientOptions {
  /** ms before a command fails with "Command timed out"; 0 = no timeout (blocking readers only). */
  commandTimeoutMs: number;
  /** Connection name shown by CLIENT LIST, for operators. */
  name?: string;
}

/** "host:port,host:port" → cluster seed nodes. */
export function parseClusterNodes(spec: string): { host: string; port: number }[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((hp) => {
      const i = hp.lastIndexOf(':');
      const host = hp.slice(0, i).replace(/^\[|\]$/g, '');
      const port = Number(hp.slice(i + 1));
      if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad cluster node "${hp}" (want host:port)`);
      return { host, port };
    });
}

export function createRedisClient(target: RedisTarget, opts: RedisClientOptions): RedisClient {
  const common: RedisOptions = {
    // Fail fast instead of queueing forever: a request while Redis is down gets UNAVAILABLE.
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    connectionName: opts.name,
    ...(opts.commandTimeoutMs > 0 ? { commandTimeout: opts.commandTimeoutMs } : {}),
  };
  if (target.kind === 'single') return new Redis(target.url, { ...common, enableAutoPipelining: true });
  return new Cluster(target.nodes, {
    redisOptions: common,
    enableAutoPipelining: true,
    // Reads go to masters: presence and stock must be read where they are written.
    scaleReads: 'master',
    lazyConnect: true,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  });
}

/** A second connection to the same Redis (or cluster) with the same options plus `override`;
 * it shares the original's circuit breaker (redis-guard.ts), if any. */
export function duplicateClient(client: RedisClient, override: Partial<RedisOptions>): RedisClient {
  const copy =
    client instanceof Cluster
      ? client.duplicate([], { ...client.options, enableAutoPipelining: override.enableAutoPipelining ?? client.options.enableAutoPipelining, redisOptions: { ...client.options.redisOptions, ...override } })
      : client.duplicate(override);
  return guardOf(client)?.protect(copy) ?? copy;
}

/**
 * The Socket.IO adapter's client. Its own commands (publishing broadcasts, saving and restoring
 * recovery sessions) get the command timeout, so a stalled Redis never holds a handshake; the
 * connections the adapter duplicates from it for reading the stream (XREAD BLOCK) and for pub/sub
 * block by design and get none.
 */
export function createAdapterClient(target: RedisTarget, opts: RedisClientOptions): RedisClient {
  const client = createRedisClient(target, opts);
  // The adapter fires some writes and forgets them (saving a dropped connection's session, pub/sub
  // messages between nodes); one that fails — timed out, Redis down — must not become an
  // unhandled rejection, which ends a Node process. Callers that await a reply still get the error.
  // (Wrapped per command rather than in sendCommand: auto-pipelining hands callers a promise of
  // its own.) These are the commands the adapter sends on this client (GETDEL goes in a MULTI it awaits).
  const commands = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['set', 'publish', 'spublish', 'xadd', 'xrange']) {
    const original = commands[name]!.bind(client);
    commands[name] = (...args: unknown[]) => {
      const reply = original(...args);
      reply.catch(() => undefined);
      return reply;
    };
  }
  const noTimeout = { commandTimeout: undefined } as Partial<RedisOptions>;
  if (client instanceof Cluster) {
    const duplicate = client.duplicate.bind(client);
    client.duplicate = (nodes, options) => duplicate(nodes, { ...client.options, ...options, redisOptions: { ...client.options.redisOptions, ...noTimeout } });
  } else {
    const duplicate = client.duplicate.bind(client);
    client.duplicate = (override) => duplicate({ ...override, ...noTimeout });
  }
  return client;
}
