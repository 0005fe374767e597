/**
 * Open sockets per signed-in user and per client IP, on this node (a node acts only on its own
 * connections; with N nodes behind a balancer the cluster-wide bound is N times this). Checked in
 * the handshake, after auth, so the refusal is a connect_error the client can read:
 * `{ code: 'LIMIT_EXCEEDED', message }`. 0 turns a limit off.
 */
import type { LiveServer, LiveSocket } from './socket-kit.js';

export class ConnectionLimits {
  private readonly byUser = new Map<string, number>();
  private readonly byIp = new Map<string, number>();

  constructor(
    private readonly maxPerUser: number,
    private readonly maxPerIp: number,
    private readonly ipOf: (socket: LiveSocket) => string,
  ) {}

  /** Handshake middleware; install after the auth middleware (it needs socket.data.user). */
  install(io: LiveServer): void {
    io.use((socket, next) => {
      const over = this.overCap(socket.data.user?.id, this.ipOf(socket));
      next(over ? refusal(over) : undefined);
    });
  }

  /**
   * Count a connected socket until it disconnects, or refuse it: false when it would put its user
   * or address over a cap. A recovered connection (connectionStateRecovery skips middleware) is
   * checked only here, so without this a client could outgrow the caps by reconnecting with its
   * session id; sockets that raced through the handshake together are caught here as well. The
   * refused connection gets `connection:refused { code: 'LIMIT_EXCEEDED', message }` and is
   * disconnected (client reason `io server disconnect`: it does not reconnect by itself).
   */
  track(io: LiveServer, socket: LiveSocket): boolean {
    const userId = socket.data.user?.id;
    const ip = this.ipOf(socket);
    const over = this.overCap(userId, ip);
    if (over) {
      // A local emit is written to the connection before the disconnect (socket.emit with
      // recovery enabled goes through the adapter and would arrive after it).
      io.local.to(socket.id).emit('connection:refused', { code: 'LIMIT_EXCEEDED', message: over });
      socket.disconnect();
      return false;
    }
    if (userId) bump(this.byUser, userId, 1);
    bump(this.byIp, ip, 1);
    socket.once('disconnect', () => {
      if (userId) bump(this.byUser, userId, -1);
      bump(this.byIp, ip, -1);
    });
    return true;
  }

  private overCap(userId: string | undefined, ip: string): string | null {
    if (userId && this.maxPerUser > 0 && (this.byUser.get(userId) ?? 0) >= this.maxPerUser) {
      return `at most ${this.maxPerUser} connections per user`;
    }
    if (this.maxPerIp > 0 && (this.byIp.get(ip) ?? 0) >= this.maxPerIp) return `at most ${this.maxPerIp} connections per address`;
    return null;
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

const refusal = (message: string) => Object.assign(new Error('LIMIT_EXCEEDED'), { data: { code: 'LIMIT_EXCEEDED', message } });
