/**
 * The cascade's messaging between nodes, on a real Redis (either topology): requests answered on
 * the asker's channel, the answering node's errors passed on with their code, a node that never
 * answers costing MEDIA_ERROR after the timeout (never a hang), malformed messages dropped without
 * harm; and heartbeats that report a node gone silent as dead, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/core/errors.js';
import { createLogger } from '../src/core/logger.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { NodeBus } from '../src/media/node-bus.js';
import { NodeLiveness } from '../src/media/node-liveness.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const log = createLogger('silent');
let redis: TestRedis;
let client: RedisClient;
const buses: NodeBus[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
});

afterAll(async () => {
  for (const b of buses) await b.close();
  client.disconnect();
  await redis.stop();
});

async function bus(nodeId: string): Promise<NodeBus> {
  const b = new NodeBus(client, nodeId, log);
  await b.start();
  buses.push(b);
  return b;
}

describe('node bus', () => {
  it('answers requests, passes errors on with their code, and times out on a silent node', async () => {
    const origin = await bus('origin-1');
    const edge = await bus('edge-1');
    origin.handle('double', (params) => (params as { n: number }).n * 2);
    origin.handle('refuse', () => {
      throw new AppError('NOT_FOUND', 'producer not found');
    });

    expect(await edge.request('origin-1', 'double', { n: 21 }, 2000)).toBe(42);
    await expect(edge.request('origin-1', 'refuse', {}, 2000)).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'producer not found' });
    await expect(edge.request('origin-1', 'no-such-method', {}, 2000)).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    const started = Date.now();
    await expect(edge.request('nobody-listens', 'double', { n: 1 }, 300)).rejects.toMatchObject({ code: 'MEDIA_ERROR' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('drops malformed messages and keeps working; notes arrive in the order sent', async () => {
    const a = await bus('node-a');
    const b = await bus('node-b');
    const seen: number[] = [];
    let all!: () => void;
    const got = new Promise<void>((ok) => (all = ok));
    b.onNote('tick', (params) => {
      seen.push((params as { i: number }).i);
      if (seen.length === 20) all();
    });
    for (const garbage of ['not json', '{"t":"req"}', JSON.stringify({ t: 'res', id: 'x'.repeat(100), ok: true }), '[]']) {
      await client.publish('media:bus:node-b', garbage);
    }
    for (let i = 0; i < 20; i++) a.notify('node-b', 'tick', { i });
    await got;
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    b.handle('ping', () => 'pong');
    expect(await a.request('node-b', 'ping', null, 2000)).toBe('pong');
  });
});

describe('node liveness', () => {
  it('reports a node whose heartbeat stopped as dead, once, and never itself', async () => {
    const dead: string[] = [];
    let reported!: () => void;
    const once = new Promise<void>((ok) => (reported = ok));
    const live = new NodeLiveness(client, 400, log, (id) => {
      dead.push(id);
      reported();
    });
    await live.start();
    try {
      // A node that beat long ago and went silent (as after kill -9), on Redis's clock.
      const [secs] = await client.time();
      await client.zadd('media:nodes', Number(secs) * 1000 - 5000, 'ghost');
      await once;
      expect(dead).toEqual(['ghost']);
      // Several more ticks: not reported again, and the live node never reports itself.
      await new Promise((r) => setTimeout(r, 600));
      expect(dead).toEqual(['ghost']);
      expect(await client.zscore('media:nodes', live.nodeId)).not.toBeNull();
    } finally {
      await live.stop();
    }
    expect(await client.zscore('media:nodes', live.nodeId)).toBeNull();
  });
});
