/** Socket.IO handshake auth: `auth: { token }` → socket.data.user; no token → guest. */
import type { LiveServer } from '../core/socket-kit.js';
import type { TokenService } from './tokens.js';

export function installSocketAuth(io: LiveServer, tokens: TokenService): void {
  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    socket.data.roomId = null;
    if (token === undefined || token === null || token === '') {
      socket.data.user = null;
      return next();
    }
    if (typeof token !== 'string' || token.length > 4096) {
      return next(Object.assign(new Error('UNAUTHORIZED'), { data: { code: 'UNAUTHORIZED', message: 'token must be a string' } }));
    }
    tokens.verify(token).then(
      (user) => {
        socket.data.user = user;
        next();
      },
      (err: Error) => next(Object.assign(new Error('UNAUTHORIZED'), { data: { code: 'UNAUTHORIZED', message: err.message } })),
    );
  });
}
