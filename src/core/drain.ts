/**
 * Graceful shutdown of one node among many (a rolling restart). The node touches only its own
 * connections, answers what it already accepted, hands its clients to the other nodes with their
 * sessions saved for connection state recovery, and is gone within a deadline whatever clients do.
 *
 * The order of the steps is the point of this module; each step says why it comes where it does.
 */
import type { Server as HttpServer } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import type { Logger } from './logger.js';
import type { InFlight } from './in-flight.js';
import type { RedisClient } from './redis-client.js';
import type { LiveServer } from './socket-kit.js';

export interface DrainParts {
  io: LiveServer;
  httpServer: HttpServer;
  /** Socket handlers and leave-on-disconnect writes running on this node. */
  inFlight: InFlight;
  log: Logger;
  /** Close every domain: timers, their own Redis connections, media workers. */
  closeDomains(): Promise<void>;
  /** This node's Redis connections (state, adapter), quit last. */
  redis: RedisClient[];
}

export class Drain {
  private started: Promise<void> | null = null;
  /** Every TCP connection of the HTTP server, upgraded ones (WebSockets) included. */
  private readonly connections = new Set<NetSocket>();
  private whenNoConnections: (() => void)[] = [];

  constructor(private readonly parts: DrainParts) {
    parts.httpServer.on('connection', (conn: NetSocket) => {
      this.connections.add(conn);
      conn.once('close', () => {
        this.connections.delete(conn);
        if (this.connections.size === 0) for (const wake of this.whenNoConnections.splice(0)) wake();
      });
    });
    // A broadcast from this node reaches its own sockets only once the adapter has written it to
    // the Redis stream (the entry id is the packet's recovery offset), after the handler that
    // sent it has returned. Meanwhile newer entries from other nodes can reach the same sockets,
    // moving each client's offset past the pending one: closing the connection in between would
    // make the client skip that message on recovery. So pending broadcasts count as in flight.
    const adapter = parts.io.of('/').adapter;
    const broadcast = adapter.broadcast.bind(adapter);
    // (Typed void, the cluster adapter's broadcast returns that promise; callers may await it.)
    adapter.broadcast = (packet, opts) => {
      const pending: unknown = broadcast(packet, opts);
      if (pending instanceof Promise) void parts.inFlight.track(pending);
      return pending as void;
    };
    // New Socket.IO connections are refused at the engine handshake (the client gets a
    // connect_error and retries, reaching another node through the load balancer).
    const engineOpts = parts.io.engine.opts;
    const allow = engineOpts.allowRequest;
    engineOpts.allowRequest = (req, fn) => {
      if (this.draining) return fn('server is draining', false);
      if (allow) return allow(req, fn);
      fn(null, true);
    };
  }

  /** True from the first moment of the drain: /readyz answers 503. */
  get draining(): boolean {
    return this.started !== null;
  }

  /** Drain and close; calling it again returns the same drain. */
  run(timeoutMs: number): Promise<void> {
    this.started ??= this.drain(timeoutMs);
    return this.started;
  }

  private noConnections(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((ok) => this.whenNoConnections.push(ok));
  }

  private async drain(timeoutMs: number): Promise<void> {
    const { io, httpServer, inFlight, log } = this.parts;
    const deadline = Date.now() + timeoutMs;
    // The steps after the clients are gone (presence writes, domains, QUIT) need Redis time of
    // their own: a stalled client may use up the clients' share, never theirs.
    const clientsDeadline = deadline - Math.min(2000, timeoutMs / 4);
    const quitDeadline = deadline - Math.min(500, timeoutMs / 10);
    const sockets = () => [...io.of('/').sockets.values()];
    log.info({ timeoutMs, sockets: sockets().length, inFlight: inFlight.count }, 'draining');

    // 1. Refuse new work first, before anything else changes: /readyz turns 503 (this.draining)
    //    so load balancers stop routing here, new handshakes are refused, and socket events
    //    arriving from now on are answered UNAVAILABLE ("retry once reconnected") rather than
    //    started — so the set of handlers to wait for only shrinks.
    inFlight.refuseNew();
    // 2. Stop listening. Open connections stay: they carry the answers to requests in flight
    //    and are how the clients will be told to reconnect. Idle keep-alive ones are closed.
    httpServer.close();

    // 3. Let the handlers that already started finish, so each is acked before its connection
    //    goes (a client cannot tell an unanswered request that ran from one that did not).
    if (!(await within(inFlight.idle(), clientsDeadline))) log.warn({ inFlight: inFlight.count }, 'drain: handlers still running at the deadline');
    httpServer.closeIdleConnections();

    // 4. Tell this node's clients to reconnect, touching only this node's connections (never
    //    io.disconnectSockets, which the adapter carries to every node). Closing the engine
    //    connection makes Socket.IO close the socket with 'forced close', one of its recoverable
    //    reasons: it saves the session (rooms, data) in Redis for connection state recovery on
    //    whichever node the client reaches next. The client sees 'transport close' and reconnects
    //    by itself (socket.disconnect() would send 'io server disconnect', after which
    //    socket.io-client never reconnects). close() first writes what is queued (the acks of
    //    step 3). The socket's 'disconnect' runs the normal leave, which removes its presence.
    const closing = sockets().map((s) => closeConnection(s.conn));
    if (!(await within(Promise.all(closing), clientsDeadline))) log.warn('drain: clients still flushing at the deadline');
    // Engine connections that never joined the namespace have no session: just close them.
    io.engine.close();
    // 5. Wait for every TCP connection to end: in-flight HTTP requests answered, WebSocket
    //    closing handshakes done (the server's own close callback does not count upgraded ones).
    await within(this.noConnections(), clientsDeadline);

    // 6. What is left now is stalled (a client that never reads, a request never finished): cut
    //    it. Sessions of sockets still open are saved by the forced close all the same.
    if (this.connections.size > 0 || sockets().length > 0) {
      log.warn({ connections: this.connections.size, sockets: sockets().length }, 'drain deadline reached: forcing connections closed');
      for (const s of sockets()) s.conn.close(true);
      for (const conn of this.connections) conn.destroy();
    }

    // 7. The leaves started by step 4 write presence removals to Redis: wait for them (and any
    //    straggling handler) while the domains and Redis are still there.
    if (!(await within(inFlight.idle(), quitDeadline))) log.warn({ inFlight: inFlight.count }, 'drain: leave writes unfinished at the deadline');

    // 8. Domains close only now: no socket is left to call them, and their timers and Redis
    //    connections (reserve batcher, media workers) served the requests answered above.
    await within(
      this.parts.closeDomains().catch((err: unknown) => log.error({ err }, 'drain: closing domains failed')),
      quitDeadline,
    );
    // Stops the adapter's stream reader and pub/sub connection (the namespace has no sockets).
    void io.close().catch(() => undefined);

    // 9. QUIT last. Redis answers commands in order, so QUIT's reply means that every command sent
    //    before it (saved sessions, presence removals) has been applied; disconnect() would drop
    //    those still in the socket buffer.
    await Promise.all(this.parts.redis.map((client) => quit(client, deadline)));
    log.info({ ms: timeoutMs - (deadline - Date.now()) }, 'drained');
  }
}

/** The first signal drains; the process exits when the drain is done or at the deadline,
 * whichever is first. A second signal exits at once (an operator who means it). */
export function exitOnSignals(shutdown: (signal: string) => Promise<void>, timeoutMs: number, log: Logger): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, timeoutMs }, 'shutting down');
    setTimeout(() => {
      log.error({ timeoutMs }, 'drain timeout: exiting');
      process.exit(1);
    }, timeoutMs).unref();
    shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function closeConnection(conn: { readyState: string; once(e: 'close', f: () => void): unknown; close(discard?: boolean): void }): Promise<void> {
  if (conn.readyState === 'closed') return Promise.resolve();
  return new Promise((ok) => {
    conn.once('close', ok);
    conn.close();
  });
}

/** Resolves true when `work` settles before `until` (epoch ms), false otherwise. */
async function within(work: Promise<unknown>, until: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((ok) => (timer = setTimeout(() => ok(false), Math.max(0, until - Date.now()))));
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function quit(client: RedisClient, until: number): Promise<void> {
  const done = await within(client.quit(), until);
  if (!done) client.disconnect();
}
