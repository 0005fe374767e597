/**
 * A rolling restart: three server processes on one Redis, viewers on all three chatting and
 * buying in a flash sale, and one process gets SIGTERM. Viewers on the other two must not notice;
 * the drained node's viewers (behind a TCP proxy standing in for the load balancer, which sends
 * new connections to a surviving node) must be back in their room, recovered, within 5 s, and
 * miss no chat; every request the drained node started before their disconnect must be answered
 * (checked against the requests' idempotency records in Redis); every checkout that was acked must
 * have its order. Then the drain's bounds: a
 * stalled client cannot hold the exit past DRAIN_TIMEOUT_MS, a second signal exits at once, and
 * /readyz says "draining" to a request that arrives during the drain.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { connect as tcpConnect, type Socket as NetSocket } from 'node:net';
import { setTimeout as pause } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { orderStreamKey, saleKeys } from '../src/commerce/sales/sale-keys.js';
import { roomKey } from '../src/core/keys.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { streamFields } from '../src/core/redis-util.js';
import type { Ack, ChatMessage, ClientEventName, ClientEventResults, ClientPayload } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, liveRoom, nextEvent, ok, type TestSocket, type TestUser } from './helpers/clients.js';
import { spawnServerProcess, type ServerProcess } from './helpers/stack.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const DRAIN_TIMEOUT_MS = 8000;
const PER_NODE = 4;
/** Chat loops (each sending as soon as the last is answered) per drained viewer around the SIGTERM. */
const FLOOD = 8;

let redisServer: TestRedis;
let redis: RedisClient;
const processes: ServerProcess[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
}, 120_000);
afterAll(async () => {
  closeAllSockets();
  for (const p of proxies) await p.close();
  await Promise.all(processes.map((p) => p.stop()));
  redis.disconnect();
  await redisServer.stop();
});

async function spawnNode(env: Record<string, string> = {}): Promise<ServerProcess & { log: LogWatch }> {
  const node = await spawnServerProcess(redisServer, { MEDIA_ENABLED: 'false', CHAT_RATE_PER_10S: '1000', DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS), ...env });
  processes.push(node);
  return { ...node, log: watchLog(node) };
}

/** The process's log lines from now on, and a way to wait for one. */
interface LogWatch {
  text(): string;
  next(pattern: RegExp, timeoutMs?: number): Promise<void>;
}
function watchLog(node: ServerProcess): LogWatch {
  let out = '';
  const changed = new EventEmitter();
  node.child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    changed.emit('data');
  });
  return {
    text: () => out,
    next: (pattern, timeoutMs = 20_000) =>
      new Promise((ok, fail) => {
        const check = () => {
          if (!pattern.test(out)) return;
          clearTimeout(timer);
          changed.off('data', check);
          ok();
        };
        const timer = setTimeout(() => {
          changed.off('data', check);
          fail(new Error(`no log line ${pattern} in:\n${out}`));
        }, timeoutMs);
        changed.on('data', check);
        check();
      }),
  };
}

/** Signal the process; resolves with its exit code and how long it took to exit. */
async function exitOf(node: ServerProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  if (node.child.exitCode !== null) return { code: node.child.exitCode, ms: 0 };
  const [code] = (await once(node.child, 'exit')) as [number | null];
  return { code, ms: Date.now() - started };
}

/**
 * One request of a viewer, for the in-flight bookkeeping: whether it went out on the open
 * connection before the viewer's first disconnect (not buffered by the client for after the
 * reconnect), whether any answer came, and how to tell from Redis that the server ran it.
 */
interface Sent {
  viewer: string;
  event: string;
  beforeDisconnect: boolean;
  answered: boolean;
  /** Reads the request's idempotency record (chat clientId, sale requestId): true if it ran. */
  ran: () => Promise<boolean>;
}

/** Emit with an ack timeout: null when no answer came (the request crossed a closing connection).
 * Recorded in `log` (when given) before it is sent. */
async function attempt<E extends ClientEventName>(
  v: Viewer,
  event: E,
  payload: ClientPayload<E>,
  ran: () => Promise<boolean>,
  log?: Sent[],
): Promise<Ack<ClientEventResults[E]> | null> {
  // socket.io-client sends at once when connected and buffers otherwise (sent after the reconnect).
  const sent: Sent = { viewer: v.name, event, beforeDisconnect: v.socket.connected && v.disconnects.length === 0, answered: false, ran };
  log?.push(sent);
  try {
    const res = (await (v.socket.timeout(10_000) as unknown as { emitWithAck(e: string, p: unknown): Promise<unknown> }).emitWithAck(event, payload)) as Ack<
      ClientEventResults[E]
    >;
    sent.answered = true;
    return res;
  } catch {
    return null;
  }
}

/** Resolves once `done()` holds, re-checked whenever `progress` fires. */
function until(progress: EventEmitter, done: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> {
  return new Promise((ok, fail) => {
    const check = () => {
      if (!done()) return;
      clearTimeout(timer);
      progress.off('tick', check);
      ok();
    };
    const timer = setTimeout(() => {
      progress.off('tick', check);
      fail(new Error(`timed out: ${what()}`));
    }, timeoutMs);
    progress.on('tick', check);
    check();
  });
}

interface Viewer {
  name: string;
  user: TestUser;
  socket: TestSocket;
  node: 'A' | 'B' | 'C';
  received: Set<string>;
  duplicates: number;
  disconnects: string[];
  /** ms from losing the connection to being connected again, and whether the session came back. */
  returns: { ms: number; recovered: boolean; at: number }[];
  ackedChats: number;
  ackedChatsAfterReturn: number;
  ackedOrders: number;
}

describe('rolling restart of one of three processes', () => {
  it('SIGTERM one node mid-chat and mid-sale: nobody elsewhere notices, its viewers recover elsewhere within 5 s, nothing acked is lost', async () => {
    const [a, b, c] = [await spawnNode(), await spawnNode(), await spawnNode()];
    // The drained node's viewers reach it through this proxy, as through a load balancer.
    const balancer = await startTcpProxy(c.url);
    proxies.push(balancer);

    const { host, roomId, productId } = await liveRoom(a.url, 'Host');
    const hostSocket = await connect(a.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 500, quantity: 100_000, perUserLimit: 100, durationSec: 600 });

    const progress = new EventEmitter();
    progress.setMaxListeners(100);
    const tick = () => progress.emit('tick');
    const places = [
      { node: 'A' as const, url: a.url },
      { node: 'B' as const, url: b.url },
      { node: 'C' as const, url: balancer.url },
    ];
    const viewers: Viewer[] = [];
    for (const place of places) {
      for (let i = 0; i < PER_NODE; i++) {
        const name = `Viewer ${place.node}${i}`;
        const user = await devUser(a.url, name);
        const socket = await connect(place.url, user, { reconnection: true });
        const v: Viewer = { name, user, socket, node: place.node, received: new Set(), duplicates: 0, disconnects: [], returns: [], ackedChats: 0, ackedChatsAfterReturn: 0, ackedOrders: 0 };
        socket.on('chat:message', (m: ChatMessage) => {
          if (v.received.has(m.id)) v.duplicates++;
          v.received.add(m.id);
          tick();
        });
        let lostAt = 0;
        socket.on('disconnect', (reason) => {
          v.disconnects.push(reason);
          lostAt = Date.now();
          tick();
        });
        socket.on('connect', () => {
          if (lostAt) v.returns.push({ ms: Date.now() - lostAt, recovered: socket.recovered, at: Date.now() });
          tick();
        });
        const joinBroadcast = nextEvent(socket, 'presence:update');
        await ok(socket, 'room:join', { roomId });
        await joinBroadcast;
        viewers.push(v);
      }
    }

    // Everyone chats and buys until told to stop. Every acked message and order is recorded.
    const ackedMessages = new Set<string>();
    const sentAt = new Map<string, { text: string; at: number }>(); // for the failure message
    const ackedOrderIds = new Set<string>();
    // Every request of the drained node's viewers, to check that each one it started was answered.
    const drainedRequests: Sent[] = [];
    const logOf = (v: Viewer) => (v.node === 'C' ? drainedRequests : undefined);
    const sendChat = (v: Viewer, text: string) => {
      const clientId = randomUUID();
      const ran = async () => (await redis.exists(roomKey(roomId, `chat:sent:${v.user.id}:${clientId}`))) === 1;
      return attempt(v, 'chat:send', { text, clientId }, ran, logOf(v));
    };
    const saleRequestRan = (kind: 'r' | 'c', v: Viewer, requestId: string) => async () =>
      (await redis.hexists(saleKeys(roomId, sale.id).requests, `${kind}|${v.user.id}|${requestId}`)) === 1;
    let running = true;
    const loops = viewers.map(async (v) => {
      for (let i = 0; running; i++) {
        const sent = await sendChat(v, `${v.name} #${i}`);
        if (sent?.ok) {
          ackedMessages.add(sent.data.id);
          sentAt.set(sent.data.id, { text: sent.data.text, at: sent.data.at });
          v.ackedChats++;
          if (v.returns.length > 0) v.ackedChatsAfterReturn++;
        }
        if (i % 3 === 0) {
          const reserveId = randomUUID();
          const hold = await attempt(v, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: reserveId }, saleRequestRan('r', v, reserveId), logOf(v));
          if (hold?.ok) {
            const checkoutId = randomUUID();
            const order = await attempt(v, 'sale:checkout', { holdId: hold.data.holdId, requestId: checkoutId }, saleRequestRan('c', v, checkoutId), logOf(v));
            if (order?.ok) {
              ackedOrderIds.add(order.data.orderId);
              v.ackedOrders++;
            }
          }
        }
        tick();
        await pause(60); // pacing the load (not synchronising anything)
      }
    });

    const drained = viewers.filter((v) => v.node === 'C');
    const others = viewers.filter((v) => v.node !== 'C');
    await until(progress, () => viewers.every((v) => v.ackedChats >= 3 && v.ackedOrders >= 1), () => 'traffic before the restart');

    // The load balancer takes C out of rotation; then C gets SIGTERM mid-traffic, with handlers
    // certainly running: C's viewers flood it with chat until their disconnect, and the signal
    // goes once the flood is being broadcast (C is reading it and working through it).
    balancer.target(b.url);
    const floodTag = `flood-${randomUUID()}`;
    const floodSeen = new Promise<void>((seen) => others[0]!.socket.on('chat:message', (m: ChatMessage) => m.text.startsWith(floodTag) && seen()));
    const floods = drained.flatMap((v) =>
      Array.from({ length: FLOOD }, async (_, k) => {
        for (let i = 0; v.disconnects.length === 0; i++) await sendChat(v, `${floodTag} ${v.name} ${k}.${i}`);
      }),
    );
    await floodSeen;
    const sigtermAt = Date.now();
    const cExit = exitOf(c);
    c.child.kill('SIGTERM');
    const { code, ms } = await cExit;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(DRAIN_TIMEOUT_MS);
    expect(c.log.text()).toMatch(/"msg":"drained"/);
    expect(c.log.text()).not.toMatch(/forcing connections closed/); // well-behaved clients: nothing was cut

    // C's viewers come back on B by themselves, recovered, and carry on chatting and buying there.
    await until(
      progress,
      () => drained.every((v) => v.returns.length > 0 && v.ackedChatsAfterReturn >= 3),
      () => `drained viewers' return: ${JSON.stringify(drained.map((v) => ({ n: v.name, r: v.returns, after: v.ackedChatsAfterReturn })))}`,
    );
    running = false;
    await Promise.all([...loops, ...floods]);

    // Every request C's viewers sent before their disconnect that C started was answered before
    // the connection closed (the drain waits for handlers in flight). A request with no answer and
    // no trace in Redis never started: it reached C after C had closed the connection (a race no
    // server can close); the client resends it after reconnecting, as it would any lost packet.
    const beforeDisconnect = drainedRequests.filter((r) => r.beforeDisconnect);
    const unanswered = beforeDisconnect.filter((r) => !r.answered);
    const ranUnanswered: Sent[] = [];
    for (const r of unanswered) if (await r.ran()) ranUnanswered.push(r);
    const handlersAtSigterm = Number(/"inFlight":(\d+)[^\n]*"msg":"draining"/.exec(c.log.text())?.[1]);
    console.log(`drain: ${handlersAtSigterm} handlers in flight at SIGTERM; ${beforeDisconnect.length} requests sent to C before the disconnect, ${unanswered.length} unanswered, ${ranUnanswered.length} of them run`);
    // (Whether the drain had handlers to wait for depends on where the flood was at the signal:
    // the log line says; 17-66 in most runs, where skipping the wait fails this with up to 18.)
    expect(ranUnanswered.map(({ viewer, event }) => ({ viewer, event }))).toEqual([]);

    for (const v of drained) {
      expect(v.disconnects, v.name).toEqual(['transport close']);
      expect(v.returns, v.name).toHaveLength(1);
      expect(v.returns[0]!.recovered, v.name).toBe(true);
      expect(v.returns[0]!.ms, v.name).toBeLessThan(5000);
    }
    for (const v of others) expect(v.disconnects, v.name).toEqual([]);

    // No missed chat, per viewer: every acked message reaches every viewer, once.
    const missing = () => viewers.map((v) => ({ n: v.name, missing: [...ackedMessages].filter((id) => !v.received.has(id)) }));
    const explain = () =>
      JSON.stringify(
        missing()
          .filter((m) => m.missing.length > 0)
          .map((m) => {
            const v = viewers.find((x) => x.name === m.n)!;
            const back = v.returns[0]?.at ?? 0;
            return { n: m.n, missing: m.missing.map((id) => ({ ...sentAt.get(id), msFromSigterm: sentAt.get(id)!.at - sigtermAt, msFromReturn: sentAt.get(id)!.at - back })) };
          }),
      );
    await until(progress, () => missing().every((m) => m.missing.length === 0), () => `missed chat: ${explain()}`);
    // Nobody else sees anything twice. (A recovered client may, rarely, get an event again where
    // the replay meets the live stream; docs/PROTOCOL.md tells clients to drop chat ids they have.)
    for (const v of others) expect(v.duplicates, v.name).toBe(0);
    expect(ackedMessages.size).toBeGreaterThan(viewers.length * 6);

    // Counted once each: the drained node took its share out of presence, the recovered
    // connections were counted again where they landed.
    expect(await ok(hostSocket, 'room:stats', {})).toMatchObject({ viewers: viewers.length, staff: 1 });

    // No acked order lost: each is in the room's orders stream, read straight from Redis.
    const stream = await redis.xrange(orderStreamKey(roomId), '-', '+');
    const streamed = new Set(stream.map(([, f]) => streamFields(f).orderId));
    expect(ackedOrderIds.size).toBeGreaterThanOrEqual(viewers.length);
    expect([...ackedOrderIds].filter((id) => !streamed.has(id))).toEqual([]);
  }, 180_000);
});

/** A client that connects over WebSocket, says hello, then never reads again. */
async function stalledSocketClient(url: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const opened = new Promise<void>((ok, fail) => {
    ws.once('message', () => ok()); // engine.io "open" packet
    ws.once('error', fail);
  });
  await opened;
  ws.send('40');
  await once(ws, 'message'); // the namespace "connect" answer
  (ws as unknown as { _socket: NetSocket })._socket.pause();
  return ws;
}

/**
 * An HTTP request whose last line is held back until `finish()`. It is pipelined behind a whole
 * request: once that one's answer is in, the server has certainly read the partial one, so the
 * connection counts as busy (not idle) when the drain begins.
 */
async function partialRequest(url: string, path: string) {
  const { hostname, port } = new URL(url);
  const conn = tcpConnect(Number(port), hostname);
  await once(conn, 'connect');
  let response = '';
  const firstAnswered = new Promise<void>((ok) => {
    conn.on('data', (d: Buffer) => {
      response += d.toString();
      if (/\r\n\r\n\{"ok":true\}/.test(response)) ok();
    });
  });
  conn.on('error', () => undefined); // a reset shows as a missing answer below
  const closed = new Promise<string>((ok) => conn.once('close', () => ok(response)));
  conn.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\n\r\nGET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n`);
  await firstAnswered;
  response = '';
  return {
    conn,
    finish: () => {
      conn.write('\r\n');
      return closed;
    },
  };
}

describe('drain bounds', () => {
  it('exits within DRAIN_TIMEOUT_MS though a client stalls, answering a request in flight with 503 draining', async () => {
    const node = await spawnNode({ DRAIN_TIMEOUT_MS: '5000' });
    const stalled = await stalledSocketClient(node.url);
    const slowloris = await partialRequest(node.url, '/healthz'); // never finished
    const probe = await partialRequest(node.url, '/readyz'); // finished during the drain

    const exit = exitOf(node);
    node.child.kill('SIGTERM');
    await node.log.next(/"msg":"draining"/);
    const answer = await probe.finish();
    expect(answer).toMatch(/^HTTP\/1\.1 503/);
    expect(answer).toMatch(/"code":"UNAVAILABLE","message":"draining/);

    const { code, ms } = await exit;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000 + 1000);
    // The stall really held the drain until its deadline (so the bound was what ended it).
    expect(node.log.text()).toMatch(/forcing connections closed/);
    stalled.terminate();
    slowloris.conn.destroy();
  }, 60_000);

  it('a second signal exits at once', async () => {
    const node = await spawnNode({ DRAIN_TIMEOUT_MS: '60000' });
    const stalled = await stalledSocketClient(node.url);
    const exit = exitOf(node);
    node.child.kill('SIGTERM');
    await node.log.next(/"msg":"draining"/);
    const secondAt = Date.now();
    node.child.kill('SIGTERM');
    const { code } = await exit;
    expect(Date.now() - secondAt).toBeLessThan(5000); // the drain alone would take 60 s
    expect(code).toBe(1);
    expect(node.log.text()).toMatch(/second signal/);
    stalled.terminate();
  }, 60_000);
});
