/**
 * Reference for bench/flash-sale.ts: a bare Socket.IO server (same library and version, default
 * options, no Redis, no validation) that answers every `sale:reserve` at once with a SOLD_OUT
 * ack. It is the floor of what one Node process pays per acked event on this machine, so the
 * benchmark can show how much of a reserve is Socket.IO itself. Forked with `--import tsx`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';

const http = createServer();
const io = new Server(http, { serveClient: false });
const refusal = { ok: false, error: { code: 'SOLD_OUT', message: 'sold out' } };
io.on('connection', (socket) => {
  socket.on('sale:reserve', (_payload: unknown, ack: (res: unknown) => void) => ack(refusal));
});

let window: NodeJS.CpuUsage | null = null;
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'usage-start') window = process.cpuUsage();
  if (msg.type === 'usage-stop' && window) {
    const cpu = process.cpuUsage(window);
    process.send?.({ type: 'usage', cpuMs: (cpu.user + cpu.system) / 1000 });
  }
  if (msg.type === 'stop') io.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
http.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` });
});
