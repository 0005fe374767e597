/**
 * Private measurement for room batching (issue 10 item 1): the cross-node cost of a room event.
 * Two nodes (src/server.ts) on one embedded redis-server, a viewer on node B, node A emitting
 * RATE chat-sized events per second to the room (in ticks of TICK_MS, as handlers resolved
 * together would). With batching on, a tick's events cross the adapter as one stream entry; off,
 * each event is its own entry — which is what batching on the receiving side would still pay
 * (XADD on A, XREAD + decode on every node, per event) before coalescing anything. Reports CPU
 * of this process (both nodes + the client) and of redis per event, interleaved over PAIRS rounds.
 *
 *   RATE=2000 SECONDS=5 PAIRS=3 npx tsx bench/batch-adapter.ts
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { io as connectIo } from 'socket.io-client';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { roomChannel } from '../src/core/keys.js';
import { createLogger } from '../src/core/logger.js';
import { unpackRoomBatch, type ChatMessage } from '../src/protocol/index.js';
import { startServer } from '../src/server.js';
import { runMain } from './run-main.js';

const RATE = Number(process.env.RATE || 2000);
const SECONDS = Number(process.env.SECONDS || 5);
const PAIRS = Number(process.env.PAIRS || 3);
const TICK_MS = Number(process.env.TICK_MS || 10);
const SECRET = 'bench-secret-bench-secret-0123456789';

function procCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function run(delayMs: string) {
  const redis = await startEmbeddedRedis({ persist: false });
  const redisPid = Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).at(-1));
  const config = loadConfig({}, { JWT_SECRET: SECRET, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', MEDIA_ENABLED: 'false', DEV_TOKENS: 'true', BATCH_MAX_DELAY_MS: delayMs });
  const a = await startServer(config, redis.url, createLogger('warn'));
  const b = await startServer(config, redis.url, createLogger('warn'));
  try {
    const roomId = 'bench';
    const viewer = connectIo(b.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    unpackRoomBatch(viewer);
    await new Promise((ok) => viewer.once('connect', () => ok(null)));
    // Straight into the channel on B (no room record needed to measure the adapter path).
    b.io.of('/').sockets.get(viewer.id!)!.join(roomChannel(roomId));
    let got = 0;
    viewer.on('chat:message', () => got++);
    const msg: ChatMessage = { id: '1-0', user: { id: 'u_x', name: 'Sender' }, text: 'great scarf, does it come in blue? asking for my mum', at: 0 } as ChatMessage;
    const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
    const total = Math.round(RATE * SECONDS);
    const cpu0 = process.cpuUsage();
    const r0 = procCpu(redisPid);
    const t0 = performance.now();
    let sent = 0;
    await new Promise<void>((done) => {
      const timer = setInterval(() => {
        for (let i = 0; i < perTick && sent < total; i++, sent++) a.io.to(roomChannel(roomId)).emit('chat:message', { ...msg, id: `${sent}-0` });
        if (sent >= total) {
          clearInterval(timer);
          done();
        }
      }, TICK_MS);
    });
    const deadline = performance.now() + 15_000;
    while (got < total && performance.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const out = {
      batchMaxDelayMs: Number(delayMs),
      events: total,
      received: got,
      processUsPerEvent: +(((cpu.user + cpu.system) / total)).toFixed(1),
      redisUsPerEvent: +(((procCpu(redisPid) - r0) * 1e6) / total).toFixed(1),
      seconds: +secs.toFixed(1),
    };
    console.log(JSON.stringify(out));
    viewer.disconnect();
    return out;
  } finally {
    await a.close();
    await b.close();
    await redis.stop();
  }
}

async function main() {
  const rows: Awaited<ReturnType<typeof run>>[] = [];
  for (let i = 0; i < PAIRS; i++) for (const d of ['0', '50']) rows.push(await run(d));
  const med = (d: number, k: 'processUsPerEvent' | 'redisUsPerEvent') => {
    const xs = rows.filter((r) => r.batchMaxDelayMs === d).map((r) => r[k]).sort((x, y) => x - y);
    return xs[Math.floor(xs.length / 2)];
  };
  console.log(
    `RESULT ${JSON.stringify({ rate: RATE, tickMs: TICK_MS, pairs: PAIRS, perEventEntries: { processUs: med(0, 'processUsPerEvent'), redisUs: med(0, 'redisUsPerEvent') }, batchedEntries: { processUs: med(50, 'processUsPerEvent'), redisUs: med(50, 'redisUsPerEvent') } })}`,
  );
}

runMain(main);
