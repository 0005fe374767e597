/**
 * Private measurement for room batching (issue 10 item 1): the per-socket cost of writing one
 * frame, Socket.IO's broadcast path against `ws`. One process serves VIEWERS clients (run in a
 * child process) and writes RATE frames per second of ~FRAME_BYTES to all of them, SECONDS long:
 *   sio     — io.to(room).emit (Socket.IO 4.8: one encode, pre-built WebSocket frame, then per
 *             socket: apply → writeToEngine → engine.io sendPacket/flush → ws sendFrame)
 *   ours    — Socket.IO with src/core/room-batching.ts (so direct-frames.ts writes each frame)
 *   direct  — the experiment behind direct-frames.ts, inline
 *   ws      — a plain WebSocketServer, client.send(data) per client (the relay baseline)
 * Reports CPU of the serving process per delivered frame, modes interleaved over PAIRS rounds.
 *
 *   VIEWERS=1000 RATE=20 SECONDS=5 PAIRS=3 npx tsx bench/batch-writepath.ts
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { batchedRoomBroadcasts } from '../src/core/room-batching.js';
import * as wsLib from 'ws';
import { WebSocket, WebSocketServer } from 'ws';

const VIEWERS = Number(process.env.VIEWERS || 1000);
const RATE = Number(process.env.RATE || 20);
const SECONDS = Number(process.env.SECONDS || 5);
const PAIRS = Number(process.env.PAIRS || 3);
const FRAME_BYTES = Number(process.env.FRAME_BYTES || 200);
const MODES = (process.env.MODES || 'sio,ws').split(',');

if (process.argv[2] === 'clients') {
  // Child: VIEWERS clients of the given kind; counts frames, reports when asked.
  const [, , , kind, url] = process.argv;
  let frames = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < VIEWERS; i++) {
    const ws = new WebSocket(kind !== 'ws' ? `${url}/socket.io/?EIO=4&transport=websocket` : url!, { perMessageDeflate: false });
    ws.on('message', (d) => {
      const f = d.toString();
      if (kind !== 'ws') {
        if (f === '2') return ws.send('3');
        if (f.startsWith('0')) return ws.send('40');
        if (f.startsWith('40')) return process.send?.({ type: 'joined' });
      }
      frames++;
    });
    if (kind === 'ws') ws.once('open', () => process.send?.({ type: 'joined' }));
    sockets.push(ws);
  }
  process.on('message', (m: { type: string }) => {
    if (m.type === 'count') process.send?.({ type: 'count', frames });
    if (m.type === 'stop') process.exit(0);
  });
} else {
  await main();
}

async function main() {
  const payload = { text: 'x'.repeat(FRAME_BYTES - 40), n: 0 };
  const rows: { mode: string; usPerDelivery: number }[] = [];
  for (let round = 0; round < PAIRS; round++) {
    for (const mode of MODES) {
      const http = createServer();
      let emit: () => void;
      let close: () => void;
      if (mode === 'ours') {
        // src/core/room-batching.ts as the server uses it (in-memory adapter, a window shorter
        // than the interval: one frame per emit, each written by direct-frames.ts).
        const io = new Server(http, { serveClient: false, adapter: batchedRoomBroadcasts((nsp) => new Adapter(nsp), { maxEvents: 128, windowMs: () => 5 }) as never });
        io.on('connection', (s) => void s.join('room:r'));
        emit = () => io.to('room:r').emit('chat:message' as never, payload as never);
        close = () => void io.close();
      } else if (mode === 'direct') {
        // Experiment: Socket.IO server, the pre-built frame written straight to each idle socket's ws sender.
        const io = new Server(http, { serveClient: false });
        io.on('connection', (s) => void s.join('room'));
        const encoded = Buffer.from(`42${JSON.stringify(['room:batch', [['chat:message', payload]]])}`);
        const frame = (wsLib as any).Sender.frame(encoded, { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true });
        const nsp = io.of('/');
        emit = () => {
          for (const id of nsp.adapter.rooms.get('room') ?? []) {
            const conn = (nsp.sockets.get(id) as any).conn;
            const t = conn.transport;
            if (t.writable && conn.writeBuffer.length === 0) t.socket._sender.sendFrame(frame);
            else conn.write(encoded.subarray(1).toString(), {});
          }
        };
        close = () => void io.close();
      } else if (mode === 'sio') {
        const io = new Server(http, { serveClient: false });
        io.on('connection', (s) => void s.join('room'));
        emit = () => io.to('room').emit('room:batch' as never, [['chat:message', payload]] as never);
        close = () => void io.close();
      } else {
        const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
        const frame = `42${JSON.stringify(['room:batch', [['chat:message', payload]]])}`;
        emit = () => {
          for (const c of wss.clients) c.send(frame);
        };
        close = () => wss.close();
      }
      await new Promise<void>((ok) => http.listen(0, '127.0.0.1', () => ok()));
      const url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
      const child = fork(new URL(import.meta.url).pathname, ['clients', mode, mode === 'ws' ? url.replace('http', 'ws') : url.replace('http', 'ws')], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let joined = 0;
      await new Promise<void>((ok) => child.on('message', (m: { type: string }) => m.type === 'joined' && ++joined === VIEWERS && ok()));
      const count = () => new Promise<number>((ok) => {
        const on = (m: { type: string; frames: number }) => m.type === 'count' && (child.off('message', on), ok(m.frames));
        child.on('message', on);
        child.send({ type: 'count' });
      });
      const f0 = await count();
      const c0 = process.cpuUsage();
      const total = RATE * SECONDS;
      await new Promise<void>((done) => {
        let sent = 0;
        const t = setInterval(() => {
          emit();
          if (++sent >= total) (clearInterval(t), done());
        }, 1000 / RATE);
      });
      // Let the last writes finish before reading the CPU.
      let f1 = await count();
      for (let i = 0; i < 100 && f1 - f0 < total * VIEWERS; i++) {
        await new Promise((ok) => setTimeout(ok, 50));
        f1 = await count();
      }
      const c = process.cpuUsage(c0);
      const delivered = f1 - f0;
      const row = { mode, usPerDelivery: +((c.user + c.system) / delivered).toFixed(2), delivered, expected: total * VIEWERS };
      console.log(JSON.stringify(row));
      rows.push(row);
      child.send({ type: 'stop' });
      close();
      http.close();
      await new Promise((ok) => setTimeout(ok, 300));
    }
  }
  // Each mode against ws in the same round: median (min-max) of the ratios.
  const ratios: Record<string, string> = {};
  for (const mode of MODES.filter((m) => m !== 'ws')) {
    const r = rows.filter((x) => x.mode === mode).map((x, i) => x.usPerDelivery / rows.filter((y) => y.mode === 'ws')[i]!.usPerDelivery).sort((a, b) => a - b);
    ratios[mode] = `${r[Math.floor(r.length / 2)]!.toFixed(2)} (${r[0]!.toFixed(2)}-${r.at(-1)!.toFixed(2)})`;
  }
  console.log(`RESULT ${JSON.stringify({ viewers: VIEWERS, rate: RATE, frameBytes: FRAME_BYTES, pairs: PAIRS, overWs: ratios })}`);
  process.exit(0);
}
