/**
 * Order webhooks against a real local HTTP receiver that fails its first 3 deliveries, then is
 * down while more orders are made, while the server process delivering them is killed (SIGKILL)
 * and replaced. Every order arrives, each signed correctly; duplicates are only ever the same
 * order id again; nothing stays pending in the consumer group; /metrics shows the state.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../src/core/redis-client.js';
import { backoffMs } from '../src/commerce/orders/webhook-deliverer.js';
import { signWebhook, verifyWebhook } from '../src/commerce/orders/webhook-signature.js';
import { orderStreamKey } from '../src/commerce/sales/sale-keys.js';
import type { WebhookEvent } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, ok, type TestSocket } from './helpers/clients.js';
import { spawnServerProcess, type ServerProcess } from './helpers/stack.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const SECRET = 'whsec-test-0123456789abcdef';
const METRICS_TOKEN = 'metrics-token-0123456789';

/** The merchant's endpoint: verifies, records, answers 500 to the first `failFirst` requests. */
class Receiver {
  readonly deliveries: { event: WebhookEvent; headers: IncomingMessage['headers']; signatureOk: boolean }[] = [];
  requests = 0;
  private server: Server | null = null;
  private port = 0;
  private waiters: { ids: Set<string>; done: () => void }[] = [];

  /** Requests answered 500 first; Infinity: every one (until set lower). */
  constructor(public failFirst: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/orders`;
  }

  async up(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        this.requests++;
        if (this.requests <= this.failFirst) {
          res.writeHead(500).end('not yet');
          return;
        }
        const signatureOk = verifyWebhook(SECRET, body, req.headers['x-webhook-timestamp'] as string, req.headers['x-webhook-signature'] as string);
        this.deliveries.push({ event: JSON.parse(body) as WebhookEvent, headers: req.headers, signatureOk });
        res.writeHead(204).end();
        this.check();
      });
    });
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Closed: connections are refused until up() again (same port). */
  async down(): Promise<void> {
    const s = this.server!;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((done) => s.close(() => done()));
  }

  received(): Set<string> {
    return new Set(this.deliveries.map((d) => d.event.id));
  }

  /** Resolves once every id has been received. */
  waitFor(ids: string[]): Promise<void> {
    return new Promise((done) => {
      this.waiters.push({ ids: new Set(ids), done });
      this.check();
    });
  }

  private check(): void {
    const got = this.received();
    this.waiters = this.waiters.filter((w) => {
      if (![...w.ids].every((id) => got.has(id))) return true;
      w.done();
      return false;
    });
  }
}

let redisServer: TestRedis;
let redis: RedisClient;
const receiver = new Receiver(3);
let server: ServerProcess | null = null;

const serverEnv = () => ({
  WEBHOOK_URL: receiver.url,
  WEBHOOK_SECRET: SECRET,
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_BACKOFF_BASE_MS: '50',
  WEBHOOK_BACKOFF_MAX_MS: '400',
  WEBHOOK_CLAIM_IDLE_MS: '2000',
  WEBHOOK_POLL_MS: '50',
  METRICS_TOKEN,
});

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  await receiver.up();
}, 60_000);
afterAll(async () => {
  closeAllSockets();
  await server?.stop();
  redis.disconnect();
  await redisServer.stop();
  await receiver.down().catch(() => undefined);
});

async function metric(url: string, name: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** Waits for a condition that only the server's own progress makes true (checked every 50 ms). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function consumerNames(roomId: string): Promise<string[]> {
  const rows = (await redis.xinfo('CONSUMERS', orderStreamKey(roomId), 'webhooks')) as unknown[][];
  return rows.map((flat) => String(flat[flat.indexOf('name') + 1]));
}

async function buy(socket: TestSocket, productId: string): Promise<string> {
  const hold = await ok(socket, 'buy:reserve', { productId, requestId: randomUUID() });
  return (await ok(socket, 'buy:checkout', { holdId: hold.holdId, requestId: randomUUID() })).orderId;
}

describe('order webhooks', () => {
  it('every order arrives signed, through receiver failures and downtime and a killed server, none lost', async () => {
    server = await spawnServerProcess(redisServer, serverEnv());
    const { host, roomId, productId } = await liveRoom(server.url, 'Host');
    expect((await http(server.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: 100, perUserLimit: 100 })).status).toBe(200);
    const buyer = await devUser(server.url, 'Bea');
    let socket = await connect(server.url, buyer);
    await ok(socket, 'room:join', { roomId });

    // 1. The receiver fails the first 3 deliveries: they are retried and arrive.
    const first: string[] = [];
    for (let i = 0; i < 5; i++) first.push(await buy(socket, productId));
    await receiver.waitFor(first);
    expect(receiver.requests).toBeGreaterThanOrEqual(first.length + 3);
    expect(await metric(server.url, 'webhook_attempts_total{outcome="http_error"}')).toBe(3);

    // 2. The receiver is down while more orders are made, and the delivering server is killed
    //    mid-retry: its pending orders are taken over by its replacement.
    await receiver.down();
    const second: string[] = [];
    for (let i = 0; i < 5; i++) second.push(await buy(socket, productId));
    const url = server.url;
    await until('failed attempts while the receiver is down', async () => (await metric(url, 'webhook_attempts_total{outcome="network_error"}')) >= 5);
    const pendingBefore = (await redis.xpending(orderStreamKey(roomId), 'webhooks')) as [number];
    expect(Number(pendingBefore[0])).toBe(5);
    const [killedConsumer] = (await consumerNames(roomId)) as [string];
    server.child.kill('SIGKILL');
    await once(server.child, 'exit');
    closeAllSockets();
    server = await spawnServerProcess(redisServer, serverEnv());
    await receiver.up();
    await receiver.waitFor(second);
    // and the new server delivers new orders too
    socket = await connect(server.url, buyer);
    await ok(socket, 'room:join', { roomId });
    const third = [await buy(socket, productId)];
    await receiver.waitFor(third);
    // An order whose checkout's node died before noting it for the deliverers: the full pass finds it.
    const unnoted = `o_${roomId}.unnoted1`;
    await redis.xadd(orderStreamKey(roomId), '*', 'orderId', unnoted, 'kind', 'buy-now', 'roomId', roomId, 'saleId', 's_bn-x', 'holdId', 'h',
      'productId', productId, 'userId', buyer.id, 'userName', 'Bea', 'qty', '1', 'unitPrice', '2999', 'amount', '2999', 'currency', 'USD',
      'requestId', 'r', 'createdAt', String(Date.now()));
    third.push(unnoted);
    await receiver.waitFor(third);

    // Every order arrived; every delivery verifies; a repeat is only ever an order already seen.
    const made = [...first, ...second, ...third];
    expect(receiver.received()).toEqual(new Set(made));
    for (const d of receiver.deliveries) {
      expect(d.signatureOk).toBe(true);
      expect(d.headers['idempotency-key']).toBe(d.event.id);
      expect(d.event).toMatchObject({ id: d.event.order.orderId, type: 'order.created', order: { kind: 'buy-now', roomId, productId, userId: buyer.id, qty: 1, amount: 2999 } });
    }
    const byId = new Map<string, WebhookEvent[]>();
    for (const d of receiver.deliveries) byId.set(d.event.id, [...(byId.get(d.event.id) ?? []), d.event]);
    for (const copies of byId.values()) for (const c of copies) expect(c).toEqual(copies[0]);

    // Nothing left pending in the group once the acks are in; the metrics say so.
    await until('no pending orders', async () => Number(((await redis.xpending(orderStreamKey(roomId), 'webhooks')) as [number])[0]) === 0);
    const newUrl = server.url;
    await until('metrics show the pending count at 0', async () => (await metric(newUrl, 'webhook_pending_orders')) === 0, 15_000);
    expect(await metric(newUrl, 'webhook_reclaimed_total')).toBeGreaterThanOrEqual(1);
    expect(await metric(newUrl, 'webhook_delivered_total')).toBeGreaterThanOrEqual(second.length + third.length);
    // The killed server's consumer name, emptied by the takeover, is removed from the group.
    await until('the gone consumer forgotten', async () => {
      const names = await consumerNames(roomId);
      return names.length === 1 && !names.includes(killedConsumer);
    }, 20_000);
  }, 120_000);
});

describe('a node stopped gracefully (SIGTERM)', () => {
  it('hands its undelivered orders over at once, not after the claim idle time', async () => {
    // Only the nodes of this case deliver (the first case's node would deliver to its receiver).
    await server?.stop();
    server = null;
    const hook = new Receiver(0);
    await hook.up();
    await hook.down(); // its port is known; connections are refused until it comes back
    // A claim idle time far longer than the wait below: only the hand-over can explain a delivery.
    const env = { ...serverEnv(), WEBHOOK_URL: hook.url, WEBHOOK_CLAIM_IDLE_MS: '120000' };
    const a = await spawnServerProcess(redisServer, env);
    const { host, roomId, productId } = await liveRoom(a.url, 'Host');
    expect((await http(a.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: 10, perUserLimit: 10 })).status).toBe(200);
    const buyer = await devUser(a.url, 'Gil');
    const socket = await connect(a.url, buyer);
    await ok(socket, 'room:join', { roomId });
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push(await buy(socket, productId));
    // node A holds all three, failing against the closed receiver
    await until('node A holding the orders', async () => Number(((await redis.xpending(orderStreamKey(roomId), 'webhooks')) as [number])[0]) === 3);
    const b = await spawnServerProcess(redisServer, env);
    try {
      const started = Date.now();
      await a.stop();
      await hook.up();
      await hook.waitFor(made);
      expect(Date.now() - started).toBeLessThan(30_000); // the claim idle time is 120 s
      expect(hook.received()).toEqual(new Set(made));
      expect(hook.deliveries.every((d) => d.signatureOk)).toBe(true);
      expect(await metric(b.url, 'webhook_reclaimed_total')).toBe(3);
    } finally {
      await b.stop();
      await hook.down();
    }
  }, 90_000);
});

describe('an order still failing WEBHOOK_GIVE_UP_AFTER_MS after it was made', () => {
  it('is given up (no longer pending), listed for the host only, and redelivered by hand once the receiver is fixed', async () => {
    await server?.stop();
    server = null;
    const hook = new Receiver(Infinity); // answers 500 to everything
    await hook.up();
    const node = await spawnServerProcess(redisServer, { ...serverEnv(), WEBHOOK_URL: hook.url, WEBHOOK_GIVE_UP_AFTER_MS: '1500' });
    try {
      const { host, roomId, productId } = await liveRoom(node.url, 'Host');
      expect((await http(node.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: 5, perUserLimit: 5 })).status).toBe(200);
      const buyer = await devUser(node.url, 'Ida');
      const socket = await connect(node.url, buyer);
      await ok(socket, 'room:join', { roomId });
      const orderId = await buy(socket, productId);
      const failedPath = `/api/rooms/${roomId}/webhooks/failed`;
      await until('the order given up', async () => (await http(node.url, 'GET', failedPath, host.token)).body.failed?.length === 1);
      const [failed] = (await http(node.url, 'GET', failedPath, host.token)).body.failed;
      expect(failed).toMatchObject({ orderId, outcome: 'http_error' });
      expect(failed.attempts).toBeGreaterThan(1);
      expect(failed.failedAt - failed.orderedAt).toBeGreaterThanOrEqual(1500);
      // Off the retries: nothing pending in the group, nothing queued on the node.
      expect(Number(((await redis.xpending(orderStreamKey(roomId), 'webhooks')) as [number])[0])).toBe(0);
      expect(await metric(node.url, 'webhook_given_up_total')).toBe(1);
      expect(await metric(node.url, 'webhook_retry_queue')).toBe(0);
      // The host's only.
      expect((await http(node.url, 'GET', failedPath, buyer.token)).status).toBe(403);
      expect((await http(node.url, 'GET', failedPath, null)).status).toBe(401);
      const redeliver = `${failedPath}/${orderId}/redeliver`;
      expect((await http(node.url, 'POST', redeliver, buyer.token)).status).toBe(403);
      // Still refused: 503, stays listed.
      const refused = await http(node.url, 'POST', redeliver, host.token);
      expect(refused).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });
      expect((await http(node.url, 'GET', failedPath, host.token)).body.failed).toHaveLength(1);
      // Fixed: delivered once, signed, and off the list.
      hook.failFirst = 0;
      expect(await http(node.url, 'POST', redeliver, host.token)).toMatchObject({ status: 200, body: { delivered: true, orderId } });
      expect(hook.received()).toEqual(new Set([orderId]));
      expect(hook.deliveries.every((d) => d.signatureOk)).toBe(true);
      expect((await http(node.url, 'GET', failedPath, host.token)).body.failed).toEqual([]);
      expect((await http(node.url, 'POST', redeliver, host.token)).status).toBe(404);
    } finally {
      await node.stop();
      await hook.down();
    }
  }, 60_000);
});

describe('webhook signature and backoff (pure)', () => {
  const body = JSON.stringify({ id: 'o_r_1.x', type: 'order.created' });
  const now = 1_800_000_000;

  it('verifies its own signature and refuses a changed body, another secret, an old or missing timestamp', () => {
    const sig = signWebhook(SECRET, now, body);
    expect(sig).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhook(SECRET, body, String(now), sig, 300, now + 10)).toBe(true);
    expect(verifyWebhook(SECRET, `${body} `, String(now), sig, 300, now)).toBe(false);
    expect(verifyWebhook('another-secret-0123456789', body, String(now), sig, 300, now)).toBe(false);
    expect(verifyWebhook(SECRET, body, String(now), sig, 300, now + 301)).toBe(false);
    expect(verifyWebhook(SECRET, body, undefined, sig, 300, now)).toBe(false);
    expect(verifyWebhook(SECRET, body, String(now), undefined, 300, now)).toBe(false);
    expect(verifyWebhook(SECRET, body, String(now), sig.slice(0, -1), 300, now)).toBe(false);
  });

  it('backs off exponentially up to the cap, with at most 20% jitter below', () => {
    expect([1, 2, 3, 4, 5, 6, 40].map((n) => backoffMs(n, 100, 1000, 1))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(backoffMs(3, 100, 1000, 0)).toBe(320);
  });
});
