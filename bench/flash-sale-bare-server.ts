/**
 * Reference for bench/flash-sale.ts and bench/hearts.ts: a bare Socket.IO server (same library and
 * version, default options, no Redis, no validation) that answers every `sale:reserve` at once
 * with a SOLD_OUT ack and every `heart:tap` with "counted". It is the floor of what one Node
 * process pays per acked event on this machine, so a benchmark can show how much of a tap is
 * Socket.IO itself. Forked like flash-sale-server.ts.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { childSide } from './bench-kit.js';
import type { FromServer, ToServer } from './flash-sale-protocol.js';

const side = childSide<unknown, ToServer, FromServer>();
const http = createServer();
const io = new Server(http, { serveClient: false });
const refusal = { ok: false, error: { code: 'SOLD_OUT', message: 'sold out' } };
io.on('connection', (socket) => {
  socket.on('sale:reserve', (_payload: unknown, ack: (res: unknown) => void) => ack(refusal));
  socket.on('heart:tap', (payload: { count?: number } | undefined, ack: (res: unknown) => void) => ack({ ok: true, data: { counted: payload?.count ?? 1 } }));
});

side.on('cpu', () => {
  const cpu = process.cpuUsage();
  side.send({ type: 'cpu', nodeUs: cpu.user + cpu.system, redisS: null });
});
side.on('stop', () => io.close(() => process.exit(0)));
http.listen(0, '127.0.0.1', () => side.send({ type: 'ready', url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` }));
