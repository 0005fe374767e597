/**
 * One way to make a Redis client, for one Redis or a Redis Cluster. Stores and scripts take a
 * `RedisClient` and never care which: every key of a room carries its hash tag, so every command
 * and script stays in one slot either way.
 *
 * Every command has a timeout: a Redis that stops answering (stalled, not dead) must turn into a
 * prompt UNAVAILABLE, never a hang.
 */
import { Cluster, Redis, type Command, type RedisOptions } from 'ioredis';
import { CommandDeadlines } from './command-deadlines.js';
import { commandTimeoutOf, guardOf, recordCommandTimeout } from './redis-guard.js';

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
  // The timeout is ours (armTimeout), not ioredis's: ioredis's timer fails a command whose answer
  // has already arrived when this process's event loop was stalled past the timeout.
  const { commandTimeout: _ioredisTimeout, ...nodeOptions } = common;
  if (target.kind === 'single') {
    const client = new Redis(target.url, { ...nodeOptions, enableAutoPipelining: true });
    if (opts.commandTimeoutMs > 0) armEveryCommand(client, opts.commandTimeoutMs);
    return client;
  }
  const cluster = new Cluster(target.nodes, {
    redisOptions: nodeOptions,
    enableAutoPipelining: true,
    // ioredis knows no key position for XGROUP (its first argument is "CREATE"), so an
    // auto-pipeline would route it by the slot of "CREATE" next to commands of that slot, and the
    // pipeline cannot follow the MOVED answer (sale:start failed with INTERNAL under load). Sent on
    // its own, the command follows MOVED like any other.
    autoPipeliningIgnoredCommands: ['xgroup'],
    // Reads go to masters: presence and stock must be read where they are written.
    scaleReads: 'master',
    lazyConnect: true,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  });
  if (opts.commandTimeoutMs > 0) failFast(cluster, opts.commandTimeoutMs);
  return cluster;
}


/**
 * ioredis's `commandTimeout` is per node on a Cluster: it starts only once a command is handed
 * to a node's connection. A command can wait before that — in the Cluster's offline queue while
 * it reconnects (every node down: for ever), or across a chain of redirections and failover
 * retries. So the timeout is armed when the Cluster takes the command and covers all of that.
 * And once the client has been ready it stops queueing: a command while the cluster is down
 * fails at once ("Cluster isn't ready…" → UNAVAILABLE) rather than running late when it returns.
 * Before the first ready, commands queue as usual (bounded by the timeout), so a lazily
 * connected client's first commands wait for the slot map instead of failing.
 * Clients without a timeout (the adapter's blocking reader) keep queueing: its poll loop retries
 * at once on an error and would spin.
 */
function failFast(cluster: Cluster, timeoutMs: number): void {
  armEveryCommand(cluster, timeoutMs);
  cluster.once('ready', () => {
    cluster.options.enableOfflineQueue = false;
  });
}

/** Every command the client takes gets the client's timeout (command-deadlines.ts: one timer
 * for all of them; redirections and retries send the same command again and it keeps its first
 * deadline). */
function armEveryCommand(client: Redis | Cluster, timeoutMs: number): void {
  recordCommandTimeout(client, timeoutMs);
  const deadlines = new CommandDeadlines(timeoutMs);
  const send = client.sendCommand.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as { sendCommand: unknown }).sendCommand = (command: Command, ...rest: unknown[]) => {
    deadlines.add(command);
    return send(command, ...rest);
  };
}

/**
 * A second connection to the same Redis (or cluster) with the same options plus `override`; it
 * shares the original's circuit breaker (redis-guard.ts), if any. It starts connecting now: its
 * first commands are typically a rush (the reserve batcher's), and should not wait for the
 * connection — on a cluster, the slot map and a connection per master.
 */
export function duplicateClient(client: RedisClient, override: Partial<RedisOptions>): RedisClient {
  const copy = duplicateLazily(client, override);
  const guarded = guardOf(client)?.protect(copy) ?? copy;
  guarded.connect().catch(() => undefined); // failures surface as 'error' events and failed commands
  return guarded;
}

function duplicateLazily(client: RedisClient, override: Partial<RedisOptions>): RedisClient {
  if (client instanceof Cluster) {
    const dup = client.duplicate([], {
      ...client.options,
      enableOfflineQueue: true, // see failFast
      enableAutoPipelining: override.enableAutoPipelining ?? client.options.enableAutoPipelining,
      redisOptions: { ...client.options.redisOptions, ...override },
    });
    const timeoutMs = commandTimeoutOf(client);
    if (timeoutMs) failFast(dup, timeoutMs);
    return dup;
  }
  const dup = client.duplicate(override);
  const timeoutMs = commandTimeoutOf(client);
  if (timeoutMs && !('commandTimeout' in override)) armEveryCommand(dup, timeoutMs);
  return dup;
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
    // The copies get no timeout (failFast is per instance) and keep queueing while the cluster is
    // down: the adapter's poll loop retries at once on an error and would spin.
    client.duplicate = (nodes, options) =>
      duplicate(nodes, { ...client.options, ...options, enableOfflineQueue: true, redisOptions: { ...client.options.redisOptions, ...noTimeout } });
  } else {
    const duplicate = client.duplicate.bind(client);
    client.duplicate = (override) => duplicate({ ...override, ...noTimeout });
  }
  return client;
}
