/**
 * The hand-over of a closing webhook deliverer, in process against real Redis (a Cluster in the
 * cluster pass): closed at random moments while it retries orders against a receiver that
 * refuses connections, every order it held must come out claimable at once by another node (idle
 * for the whole claim idle time) and its stream noted fresh. A close landing inside a retry's
 * XCLAIM once left that order to wait the whole idle time (minutes) for another node.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookMetrics } from '../src/commerce/orders/orders-metrics.js';
import { FRESH_STREAMS, WebhookDeliverer } from '../src/commerce/orders/webhook-deliverer.js';
import { createLogger } from '../src/core/logger.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const GROUP = 'webhooks';
const CLAIM_IDLE_MS = 600_000;
const ORDERS = 4;
let redisServer: TestRedis;
let redis: RedisClient;
let refusingUrl: string;

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  // A port nobody listens on: every attempt fails at once (connection refused).
  const probe = createServer();
  await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
  refusingUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/hook`;
  await new Promise<void>((ok) => probe.close(() => ok()));
});

afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
});

function deliverer(): WebhookDeliverer {
  return new WebhookDeliverer(
    redis,
    { url: refusingUrl, secret: 'handover-secret-0123456789', timeoutMs: 500, group: GROUP, backoffBaseMs: 1, backoffMaxMs: 3, claimIdleMs: CLAIM_IDLE_MS, pollMs: 2, concurrency: 16, giveUpAfterMs: 3_600_000 },
    (state) => webhookMetrics(new Registry(), state),
    createLogger('silent'),
  );
}

async function idleTimes(stream: string): Promise<number[]> {
  const rows = (await redis.xpending(stream, GROUP, '-', '+', 100)) as [string, string, number, number][];
  return rows.map((r) => Number(r[2]));
}

describe('webhook hand-over at close', () => {
  it('whenever the close lands in its retries, every held order is left idle for the claim time and its stream noted fresh', async () => {
    for (let round = 0; round < 40; round++) {
      const stream = `{orders-handover-${round}}:orders`;
      await redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
      for (let i = 0; i < ORDERS; i++) await redis.xadd(stream, '*', 'orderId', `o_${round}_${i}`, 'roomId', 'r', 'amount', '100');
      const d = deliverer();
      d.noteOrder(stream);
      d.start();
      // Every order read and failing at least once, then a close at a random moment of the retries.
      await waitFor(async () => (await idleTimes(stream)).length === ORDERS);
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      await d.close();
      const idle = await idleTimes(stream);
      expect(idle).toHaveLength(ORDERS);
      expect(Math.min(...idle), `round ${round}`).toBeGreaterThanOrEqual(CLAIM_IDLE_MS);
      expect(await redis.sismember(FRESH_STREAMS, stream)).toBe(1);
      await redis.srem(FRESH_STREAMS, stream);
    }
  }, 60_000);
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check()) return;
    await new Promise((r) => setImmediate(r));
  }
}
