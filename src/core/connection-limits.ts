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
      const userId = socket.data.user?.id;
      if (userId && this.maxPerUser > 0 && (this.byUser.get(userId) ?? 0) >= this.maxPerUser) {
        return next(refusal(`at most ${this.maxPerUser} connections per user`));
      }
      if (this.maxPerIp > 0 && (this.byIp.get(this.ipOf(socket)) ?? 0) >= this.maxPerIp) {
        return next(refusal(`at most ${this.maxPerIp} connections per address`));
      }
      next();
    });
  }

  /** Count a connected socket until it disconnects (recovered sockets skip middleware: counted here). */
  track(socket: LiveSocket): void {
    const userId = socket.data.user?.id;
    const ip = this.ipOf(socket);
    if (userId) bump(this.byUser, userId, 1);
    bump(this.byIp, ip, 1);
    socket.once('disconnect', () => {
      if (userId) bump(this.byUser, userId, -1);
      bump(this.byIp, ip, -1);
    });
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

const refusal = (message: string) => Object.assign(new Error('LIMIT_EXCEEDED'), { data: { code: 'LIMIT_EXCEEDED', message } });
