/**
 * Socket.IO handshake auth: `auth: { token }` → socket.data.user; no token → guest. A signed-in
 * socket lives no longer than its token: at `exp` it gets `auth:expired` and is disconnected
 * (reason "io server disconnect"), and the client reconnects with a fresh token.
 */
import type { LiveServer, LiveSocket } from '../core/socket-kit.js';
import { MAX_TOKEN_CHARS, type TokenService } from './tokens.js';

const refuse = (message: string) => Object.assign(new Error('UNAUTHORIZED'), { data: { code: 'UNAUTHORIZED', message } });

export function installSocketAuth(io: LiveServer, tokens: TokenService): void {
  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    socket.data.roomId = null;
    socket.data.tokenExpiresAt = null;
    if (token === undefined || token === null || token === '') {
      socket.data.user = null;
      return next();
    }
    if (typeof token !== 'string') return next(refuse('token must be a string'));
    if (token.length > MAX_TOKEN_CHARS) return next(refuse(`token longer than ${MAX_TOKEN_CHARS} characters`));
    tokens.verifySession(token).then(
      ({ user, expiresAt }) => {
        socket.data.user = user;
        socket.data.tokenExpiresAt = expiresAt;
        next();
      },
      (err: Error) => next(refuse(err.message)),
    );
  });
  // Also for recovered connections, which skip the middleware but keep socket.data.
  io.on('connection', (socket) => closeAtExpiry(io, socket));
}

function closeAtExpiry(io: LiveServer, socket: LiveSocket): void {
  const expiresAt = socket.data.tokenExpiresAt;
  if (!expiresAt) return;
  const expire = () => {
    // Not socket.emit: with connection state recovery that goes through the Redis adapter and
    // would arrive after the disconnect. A local emit is written to the connection at once.
    io.local.to(socket.id).emit('auth:expired', { expiredAt: expiresAt });
    socket.disconnect();
  };
  // A recovered connection whose token ran out while it was away goes at once, but after the
  // server's own connection handler has run (so its disconnect handling is in place).
  // Lifetimes are capped (TOKEN_MAX_LIFETIME_S ≤ 7 days), well under setTimeout's 24.8-day limit.
  const timer = setTimeout(expire, Math.max(0, expiresAt - Date.now()));
  timer.unref();
  socket.once('disconnect', () => clearTimeout(timer));
}
