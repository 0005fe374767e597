/**
 * The command timeout means "Redis did not answer", not "this process was too busy to read the
 * answer": after this process's event loop stalls past the timeout, an answer that arrived in the
 * meantime still wins. (ioredis's own timer runs before the socket is read, so under a flood on a
 * busy machine a chat sent during the flood failed with UNAVAILABLE although Redis had answered.)
 * Runs on the run's topology (one Redis or a Cluster: both arm their timeouts the same way).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient, duplicateClient, type RedisClient } from '../src/core/redis-client.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const TIMEOUT_MS = 150;
let redis: TestRedis;
const clients: RedisClient[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

function timedClient(): RedisClient {
  const client = createRedisClient(redis.target, { commandTimeoutMs: TIMEOUT_MS, name: 'timeout-test' });
  clients.push(client);
  return client;
}

/** Blocks this process's event loop, as a burst of work on a busy machine does. */
function stallFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* busy */
  }
}

/** Resolves once a command sent now has been written but its answer not yet read: auto-pipelining
 * writes in a setImmediate, this one runs right after it, before the loop polls the socket again. */
const written = () => new Promise<void>((ok) => setImmediate(ok));

describe('redis command timeout', () => {
  for (const [name, make] of [
    ['a client', () => timedClient()],
    ['its duplicate', () => {
      const d = duplicateClient(timedClient(), {});
      clients.push(d);
      return d;
    }],
  ] as const) {
    it(`${name}: an answer that arrived while the event loop was stalled past the timeout is read, not timed out`, async () => {
      const client = make();
      // Connected to the key's node (on a cluster: the slot map loaded and that master's
      // connection up), so the command below is written in this turn's auto-pipeline flush.
      await client.get('timeout-test:key');
      const reply = client.set('timeout-test:key', 'v');
      await written();
      stallFor(TIMEOUT_MS * 4);
      await expect(reply).resolves.toBe('OK');
    });

    it(`${name}: a Redis that does not answer within the timeout still fails the command`, async () => {
      const client = make();
      await client.get('timeout-test:key');
      // Redis runs one command at a time: a Lua busy loop longer than the timeout holds our GET back.
      const blocker = redis.client();
      clients.push(blocker);
      await blocker.get('timeout-test:key'); // connected to the key's node
      const busy = blocker.eval(`local t = redis.call('TIME'); local s = t[1] * 1000 + t[2] / 1000
        while true do local n = redis.call('TIME'); if n[1] * 1000 + n[2] / 1000 - s > ${TIMEOUT_MS * 3} then break end end
        return 1`, 1, 'timeout-test:key');
      await written();
      const started = performance.now();
      await expect(client.get('timeout-test:key')).rejects.toThrow(/Command timed out/);
      expect(performance.now() - started).toBeLessThan(TIMEOUT_MS * 3);
      await busy;
    });
  }
});
