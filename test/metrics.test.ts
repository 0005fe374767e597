/**
 * Observability through the real interfaces: /metrics guarded (404 by default, 401 without the
 * token, or on its own port), counters and histograms that move with a join, chat, hearts, a
 * reserve and a checkout, no room or user id in any label, and a log line (captured from pino)
 * for each refused privileged action, under a budget.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/core/embedded-redis.js';
import { startServer, type RunningServer } from '../src/server.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, requestRaw } from './helpers/clients.js';
import { testConfig } from './helpers/stack.js';

const TOKEN = 'metrics-test-token-0123456789';

/** pino output of one server, as parsed lines, with a way to wait for a line. */
class LogCapture extends EventEmitter {
  readonly lines: Record<string, unknown>[] = [];
  write(chunk: string): void {
    for (const raw of chunk.split('\n')) {
      if (!raw) continue;
      const line = JSON.parse(raw) as Record<string, unknown>;
      this.lines.push(line);
      this.emit('line', line);
    }
  }
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const found = this.lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('line', listener);
        reject(new Error('timed out waiting for a log line'));
      }, timeoutMs);
      const listener = (line: Record<string, unknown>) => {
        if (!match(line)) return;
        clearTimeout(timer);
        this.off('line', listener);
        resolve(line);
      };
      this.on('line', listener);
    });
  }
}

let redisServer: EmbeddedRedis;
let redis: Redis;
let server: RunningServer;
const logs = new LogCapture();
const others: RunningServer[] = [];

beforeAll(async () => {
  redisServer = await startEmbeddedRedis({ persist: false });
  redis = new Redis(redisServer.url);
  const config = testConfig({ METRICS_TOKEN: TOKEN, LOG_LEVEL: 'info' });
  server = await startServer(config, redisServer.url, pino({ level: 'info' }, logs));
});
afterAll(async () => {
  closeAllSockets();
  for (const s of others) await s.close();
  await server?.close();
  redis?.disconnect();
  await redisServer?.stop();
});

const scrape = async (url = server.url, token: string | null = TOKEN) => {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, text: await res.text() };
};

/** `name{a="x",b="y"} value` lines keyed by name and sorted labels. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsed metrics line: ${line}`);
    const labels = m[2] ? [...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}=${v}`).sort().join(',') : '';
    values.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return values;
}

const key = (name: string, labels: Record<string, string> = {}) =>
  `${name}{${Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(',')}}`;

async function metricValues(): Promise<(name: string, labels?: Record<string, string>) => number> {
  const { status, text } = await scrape();
  expect(status).toBe(200);
  const values = parseMetrics(text);
  return (name, labels) => values.get(key(name, labels)) ?? 0;
}

describe('/metrics access', () => {
  it('is not served at all unless METRICS_TOKEN or METRICS_PORT is set', async () => {
    const open = await startServer(testConfig(), redisServer.url, pino({ level: 'silent' }));
    others.push(open);
    expect((await scrape(open.url, null)).status).toBe(404);
    expect((await fetch(`${open.url}/admin/rooms/top`)).status).toBe(404);
  });

  it('needs the bearer token when METRICS_TOKEN is set', async () => {
    expect((await scrape(server.url, null)).status).toBe(401);
    expect((await scrape(server.url, 'wrong-token-wrong-token')).status).toBe(401);
    expect((await fetch(`${server.url}/admin/rooms/top`)).status).toBe(401);
    const res = await scrape();
    expect(res.status).toBe(200);
    // prom-client's default metrics stay: event-loop lag among them
    expect(res.text).toMatch(/^nodejs_eventloop_lag_seconds [\d.e-]+$/m);
  });

  it('with METRICS_PORT is served on that port only', async () => {
    const separate = await startServer(testConfig({ METRICS_PORT: '0' }), redisServer.url, pino({ level: 'silent' }));
    others.push(separate);
    expect(separate.metricsUrl).not.toBeNull();
    expect((await scrape(separate.url, null)).status).toBe(404);
    const res = await scrape(separate.metricsUrl!, null);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^socket_connected \d+$/m);
  });
});

describe('domain metrics', () => {
  it('move with a join, chat, hearts, a reserve and a checkout; no label carries an id', async () => {
    const before = await metricValues();
    const { host, roomId, productId } = await liveRoom(server.url, 'Mia');
    const viewer = await devUser(server.url, 'Vera');
    const hostSocket = await connect(server.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    const v = await connect(server.url, viewer);
    await ok(v, 'room:join', { roomId });
    const refusedJoin = await request(v, 'room:join', { roomId: 'r_does_not_exist' });
    expect(refusedJoin).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    await ok(v, 'room:join', { roomId }); // back in the room after the failed join

    const heard = nextEvent(hostSocket, 'chat:message');
    const msg = await ok(v, 'chat:send', { text: 'hello' });
    await heard;
    await ok(v, 'heart:tap', { count: 5 });
    expect(await requestRaw(v, 'no:such-event', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_EVENT' } });

    const sale = await ok(hostSocket, 'sale:start', { productId, price: 999, quantity: 5, perUserLimit: 2, durationSec: 600 });
    const hold = await ok(v, 'sale:reserve', { saleId: sale.id, qty: 2, requestId: randomUUID() });
    const over = await request(v, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    expect(over).toMatchObject({ ok: false, error: { code: 'LIMIT_EXCEEDED' } });
    const checkoutId = randomUUID();
    const order = await ok(v, 'sale:checkout', { holdId: hold.holdId, requestId: checkoutId });
    await ok(v, 'sale:checkout', { holdId: hold.holdId, requestId: checkoutId }); // a retry: no second order

    const after = await metricValues();
    const moved = (name: string, labels?: Record<string, string>) => after(name, labels) - before(name, labels);
    expect(moved('room_joins_total', { outcome: 'ok' })).toBe(3);
    expect(moved('room_joins_total', { outcome: 'NOT_FOUND' })).toBe(1);
    expect(moved('chat_messages_total', { outcome: 'ok' })).toBe(1);
    expect(moved('hearts_total')).toBe(5);
    expect(moved('heart_taps_total', { outcome: 'ok' })).toBe(1);
    expect(moved('sales_started_total')).toBe(1);
    expect(moved('sale_reserves_total', { outcome: 'ok' })).toBe(1);
    expect(moved('sale_reserves_total', { outcome: 'LIMIT_EXCEEDED' })).toBe(1);
    expect(moved('sale_checkouts_total', { outcome: 'ok' })).toBe(2);
    expect(moved('sale_orders_total')).toBe(1);
    expect(moved('sale_units_sold_total')).toBe(2);
    // ack latency per event; unknown names share one label
    expect(moved('socket_event_duration_seconds_count', { event: 'chat:send' })).toBe(1);
    expect(moved('socket_event_duration_seconds_count', { event: 'sale:checkout' })).toBe(2);
    expect(moved('socket_event_duration_seconds_count', { event: 'unknown' })).toBe(1);
    expect(moved('socket_event_errors_total', { event: 'unknown', code: 'UNKNOWN_EVENT' })).toBe(1);
    expect(moved('socket_event_errors_total', { event: 'sale:reserve', code: 'LIMIT_EXCEEDED' })).toBe(1);
    expect(after('socket_event_duration_seconds_sum', { event: 'sale:reserve' })).toBeGreaterThan(0);
    // broadcasts: counted once per frame on the sending node; the chat line went out inside a
    // room:batch (with whatever else the room heard in its window), counted by event there
    expect(moved('socket_broadcast_frames_total', { event: 'chat:message' })).toBe(0);
    expect(moved('room_batched_events_total', { event: 'chat:message' })).toBe(1);
    expect(moved('socket_broadcast_frames_total', { event: 'room:batch' })).toBeGreaterThanOrEqual(1);
    expect(moved('room_batch_events_count')).toBe(moved('socket_broadcast_frames_total', { event: 'room:batch' }));
    expect(moved('socket_broadcast_frames_total', { event: 'sale:started' })).toBe(1);
    expect(moved('socket_connections_total')).toBe(2);
    expect(after('socket_connected')).toBeGreaterThanOrEqual(2);
    expect(after('room_members_local')).toBeGreaterThanOrEqual(2);
    expect(after('rooms_live')).toBe(await redis.zcard('rooms:live'));
    expect(after('rooms_live')).toBeGreaterThanOrEqual(1);
    // HTTP by route pattern; Redis commands by name
    expect(moved('http_request_duration_seconds_count', { route: '/api/rooms', method: 'POST', status: '201' })).toBe(1);
    expect(moved('http_request_duration_seconds_count', { route: '/api/rooms/:roomId/products', method: 'POST', status: '201' })).toBe(1);
    expect(moved('redis_command_duration_seconds_count', { command: 'evalsha' })).toBeGreaterThan(0);

    // Ids never become labels: nothing of this room, its users, sale, hold or order in the text.
    const { text } = await scrape();
    for (const id of [roomId, host.id, viewer.id, sale.id, hold.holdId, order.orderId, msg.id, v.id!, hostSocket.id!]) {
      expect(text).not.toContain(id);
    }
    // The per-room view is the admin route's.
    const top = await fetch(`${server.url}/admin/rooms/top?limit=5`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(top.status).toBe(200);
    expect(((await top.json()) as { rooms: unknown[] }).rooms).toContainEqual({ roomId, connections: 2 });
  });
});

describe('redis metrics', () => {
  it('count a failed command by kind', async () => {
    await redis.set('metrics-test:string', 'x');
    const before = await metricValues();
    await expect(server.redis.hget('metrics-test:string', 'f')).rejects.toThrow(/WRONGTYPE/);
    const after = await metricValues();
    expect(after('redis_command_errors_total', { command: 'hget', kind: 'reply' }) - before('redis_command_errors_total', { command: 'hget', kind: 'reply' })).toBe(1);
  });

  it('a scrape does not wait on a stalled Redis: rooms_live reads NaN', async () => {
    const stalled = await startEmbeddedRedis({ persist: false });
    const node = await startServer(testConfig({ METRICS_TOKEN: TOKEN }), stalled.url, pino({ level: 'silent' }));
    const pid = Number(/process_id:(\d+)/.exec(await node.redis.info('server'))?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGSTOP');
    try {
      const { status, text } = await scrape(node.url);
      expect(status).toBe(200);
      const values = parseMetrics(text);
      expect(values.get(key('rooms_live'))).toBeNaN();
      // Collected concurrently with the gauge, the error count shows from the next scrape on.
      const again = parseMetrics((await scrape(node.url)).text);
      expect(again.get(key('rooms_live'))).toBeNaN();
      expect(again.get(key('rooms_live_read_errors_total'))).toBeGreaterThanOrEqual(1);
    } finally {
      process.kill(pid, 'SIGCONT');
      await node.close();
      await stalled.stop();
    }
  });
});

describe('logs', () => {
  it('a refused privileged action logs one info line with socket, user and room ids', async () => {
    const { roomId } = await liveRoom(server.url, 'Hal');
    const viewer = await devUser(server.url, 'Pat');
    const v = await connect(server.url, viewer);
    await ok(v, 'room:join', { roomId });
    const refused = await request(v, 'mod:slow-mode', { seconds: 5 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const line = await logs.waitFor((l) => l.msg === 'privileged action refused' && l.socketId === v.id);
    expect(line).toMatchObject({ level: 30, event: 'mod:slow-mode', code: 'FORBIDDEN', userId: viewer.id, roomId });

    // A guest trying a signed-in action, and a banned user coming back.
    const guest = await connect(server.url, null);
    await ok(guest, 'room:join', { roomId });
    expect(await request(guest, 'chat:send', { text: 'hi' })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    await logs.waitFor((l) => l.msg === 'privileged action refused' && l.socketId === guest.id && l.code === 'UNAUTHORIZED' && l.userId === null);
  });

  it('a refused HTTP request logs its request id, which the response echoes', async () => {
    const { roomId } = await liveRoom(server.url, 'Ivy');
    const viewer = await devUser(server.url, 'Rex');
    const res = await fetch(`${server.url}/api/rooms/${roomId}/live`, {
      method: 'POST',
      headers: { authorization: `Bearer ${viewer.token}`, 'x-request-id': 'req-metrics-test-1' },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-request-id')).toBe('req-metrics-test-1');
    const line = await logs.waitFor((l) => l.msg === 'privileged action refused' && l.reqId === 'req-metrics-test-1');
    expect(line).toMatchObject({ code: 'FORBIDDEN', userId: viewer.id, route: '/api/rooms/:roomId/live', method: 'POST' });
    // A made-up id that is not a sane token is replaced, not logged.
    const odd = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(200) } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refusals cannot flood the log: a budget per node, the rest counted as suppressed', async () => {
    const { roomId } = await liveRoom(server.url, 'Flo');
    const viewer = await devUser(server.url, 'Spam');
    // Several sockets, a few requests each: the budget is per node, and per-socket limits stay out of the way.
    const sockets = await Promise.all(Array.from({ length: 8 }, () => connect(server.url, viewer)));
    for (const s of sockets) await ok(s, 'room:join', { roomId });
    const mine = () => logs.lines.filter((l) => l.msg === 'privileged action refused' && l.userId === viewer.id);
    const refuse = (s: (typeof sockets)[number]) => request(s, 'mod:slow-mode', { seconds: 5 });
    const acks = await Promise.all(sockets.flatMap((s) => Array.from({ length: 10 }, () => refuse(s))));
    expect(acks.every((a) => !a.ok && a.error.code === 'FORBIDDEN')).toBe(true);
    expect(mine().length).toBeLessThanOrEqual(20);
    // Once the budget refills, the next line says how many were left out.
    let withCount: Record<string, unknown> | undefined;
    for (let i = 0; i < 5000 && !withCount; i++) {
      await refuse(sockets[i % sockets.length]!);
      withCount = mine().find((l) => typeof l.suppressed === 'number');
    }
    expect(withCount?.suppressed).toBeGreaterThanOrEqual(acks.length - 20);
  });
});
