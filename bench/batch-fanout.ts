/**
 * Private measurement for room batching (issue 10 item 1), not one of the npm benches (those are
 * bench/chat-fanout.ts & co.): VIEWERS wire-protocol viewers in one room, SENDERS users sending
 * RATE chat messages per second between them on an open-loop schedule, against our server with
 * batching off (BATCH_MAX_DELAY_MS=0) and at each delay in MODES, and against the per-message `ws`
 * relay, interleaved over PAIRS rounds. Per run: deliveries/s, frames/s received, server CPU per
 * delivery (server process; redis apart), latency from each message's scheduled send time.
 *
 *   VIEWERS=1000 RATE=20 MODES=off,50,ws PAIRS=3 npx tsx bench/batch-fanout.ts
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { io as connectIo, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { TokenService } from '../src/auth/tokens.js';
import { newId } from '../src/core/ids.js';
import { Histogram, postJson } from './bench-kit.js';
import { inBatches } from './clients.js';
import { runMain } from './run-main.js';

const num = (name: string, d: number) => Number(process.env[name] || d);
const VIEWERS = num('VIEWERS', 1000);
const RATE = num('RATE', 20);
const SENDERS = num('SENDERS', 4);
const SECONDS = num('SECONDS', 8);
const WARMUP = num('WARMUP', 2);
const PAIRS = num('PAIRS', 2);
const MODES = (process.env.MODES || 'off,50,ws').split(',');
const NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS || '').split(/\s+/).filter(Boolean);
const JWT_SECRET = randomBytes(24).toString('base64url');
const PAD = 'great scarf, does it come in blue? asking for my mum';

/** Counts frames and deliveries; latency from the scheduled time carried in the text. */
class Recorder {
  latency = new Histogram();
  frames = 0;
  deliveries = 0;
  measured = 0;
  inWindow = false;
  constructor(
    private readonly from: number,
    private readonly to: number,
  ) {}
  text(t: string): void {
    const [, seqS, dueS] = t.split(' ', 3);
    const seq = Number(seqS);
    if (this.inWindow) this.deliveries++;
    if (seq < this.from || seq >= this.to) return;
    this.latency.record(performance.now() - Number(dueS));
    this.measured++;
  }
}
let rec: Recorder | null = null;

/** One frame as a viewer decodes it: a single chat:message or a room:batch of entries. */
function onFrame(frame: string): void {
  if (!rec) return;
  if (rec.inWindow) rec.frames++;
  const [event, payload] = JSON.parse(frame.slice(2)) as [string, any];
  if (event === 'chat:message') rec.text(payload.text);
  else if (event === 'room:batch') for (const [e, p] of payload as [string, any][]) if (e === 'chat:message') rec.text(p.text);
}

function wireViewer(url: string, token: string, roomId: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
  return new Promise((ok, fail) => {
    ws.on('error', fail);
    ws.on('message', (data) => {
      const frame = data.toString();
      if (frame.startsWith('42')) onFrame(frame);
      else if (frame === '2') ws.send('3');
      else if (frame.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
      else if (frame.startsWith('40')) ws.send(`420${JSON.stringify(['room:join', { roomId }])}`);
      else if (frame.startsWith('430')) (JSON.parse(frame.slice(3))[0].ok ? ok(ws) : fail(new Error(frame)));
    });
  });
}

function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}
const childPids = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

async function startServerChild(mode: string) {
  const child = fork(new URL('./batch-server.ts', import.meta.url).pathname, [mode === 'ws' ? 'ws' : 'socketio'], {
    execArgv: ['--import', 'tsx', ...NODE_ARGS],
    env: { ...process.env, BENCH_JWT_SECRET: JWT_SECRET, BATCH_MAX_DELAY_MS: mode === 'off' ? '0' : mode },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((ok, fail) => {
    child.once('exit', (c) => fail(new Error(`server exited ${c}`)));
    child.on('message', (m: { type: string; url: string }) => m.type === 'ready' && ok(m.url));
  });
  const redisPid = childPids(child.pid!)[0];
  return {
    url,
    cpu: () => ({ server: procCpu(child.pid!), redis: redisPid ? procCpu(redisPid) : 0 }),
    stop: () =>
      new Promise<void>((done) => {
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => (clearTimeout(killer), done()));
        child.send({ type: 'stop' });
      }),
  };
}

/** Calls send(seq, dueAt) on an absolute schedule; late ticks catch up (dueAt stays the schedule). */
function pace(rate: number, count: number, send: (seq: number, due: number) => void, t0: number): Promise<number> {
  const interval = 1000 / rate;
  let seq = 0;
  let maxBehind = 0;
  return new Promise((done) => {
    const tick = () => {
      const now = performance.now();
      while (seq < count && t0 + seq * interval <= now) {
        maxBehind = Math.max(maxBehind, now - (t0 + seq * interval));
        send(seq, t0 + seq * interval);
        seq++;
      }
      if (seq >= count) return done(maxBehind);
      setTimeout(tick, Math.max(0, t0 + seq * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
}

async function run(mode: string) {
  const server = await startServerChild(mode);
  const closers: (() => void)[] = [];
  try {
    let send: (seq: number, due: number) => void;
    const viewerToken = () => tokens.sign({ id: newId('u_'), name: 'Viewer' });
    const tokens = new TokenService(JWT_SECRET, 'live-commerce');
    if (mode === 'ws') {
      const host = new WebSocket(server.url.replace(/^http/, 'ws'));
      await new Promise((ok) => host.once('open', ok));
      closers.push(() => host.terminate());
      await inBatches(VIEWERS, 50, async () => {
        const ws = new WebSocket(server.url.replace(/^http/, 'ws'), { perMessageDeflate: false });
        await new Promise((ok) => ws.once('open', ok));
        ws.on('message', (d) => onFrame(d.toString()));
        closers.push(() => ws.terminate());
      });
      const user = { id: 'u_x', name: 'Sender' };
      send = (seq, due) => {
        const id = `${Date.now()}-0`;
        host.send(`42${JSON.stringify(['chat:message', { id, user, text: `fo ${seq} ${due.toFixed(3)} ${PAD}`, at: Date.now() }, id])}`);
      };
    } else {
      const hostToken = await tokens.sign({ id: newId('u_'), name: 'Host' });
      const { room } = await postJson(server.url, '/api/rooms', hostToken, { title: 'batch bench', hostKind: 'buyer' });
      await postJson(server.url, `/api/rooms/${room.id}/live`, hostToken);
      const senders: Socket[] = [];
      for (let i = 0; i < SENDERS; i++) {
        const s = connectIo(server.url, { transports: ['websocket'], auth: { token: await tokens.sign({ id: newId('u_'), name: `Sender ${i}` }) }, forceNew: true, reconnection: false });
        await new Promise((ok) => s.once('connect', () => ok(null)));
        const joined = await new Promise<any>((ok) => s.emit('room:join', { roomId: room.id }, ok));
        if (!joined.ok) throw new Error(JSON.stringify(joined));
        senders.push(s);
        closers.push(() => s.disconnect());
      }
      await inBatches(VIEWERS, 50, async () => {
        const ws = await wireViewer(server.url, await viewerToken(), room.id);
        closers.push(() => ws.terminate());
      });
      let refused = 0;
      send = (seq, due) =>
        senders[seq % SENDERS]!.emit('chat:send', { text: `fo ${seq} ${due.toFixed(3)} ${PAD}` }, (r: any) => {
          if (!r.ok) refused++;
        });
      closers.push(() => refused && console.log(`  ${refused} chat:send refused`));
    }
    const warm = Math.round(RATE * WARMUP);
    const count = warm + Math.round(RATE * SECONDS);
    rec = new Recorder(warm, count);
    const r = rec;
    const t0 = performance.now() + 50;
    let a = { at: 0, cpu: server.cpu(), elu: performance.eventLoopUtilization() };
    let b = a;
    setTimeout(() => {
      a = { at: performance.now(), cpu: server.cpu(), elu: performance.eventLoopUtilization() };
      r.inWindow = true;
    }, t0 + WARMUP * 1000 - performance.now());
    setTimeout(() => {
      b = { at: performance.now(), cpu: server.cpu(), elu: performance.eventLoopUtilization() };
      r.inWindow = false;
    }, t0 + (WARMUP + SECONDS) * 1000 - performance.now());
    const behind = await pace(RATE, count, send, t0);
    const target = VIEWERS * (count - warm);
    const deadline = performance.now() + 10_000;
    while ((r.measured < target || b === a) && performance.now() < deadline) await new Promise((ok) => setTimeout(ok, 50));
    const secs = (b.at - a.at) / 1000;
    const serverCores = (b.cpu.server - a.cpu.server) / secs;
    const out = {
      mode,
      deliveriesPerSec: Math.round(r.deliveries / secs),
      framesPerSec: Math.round(r.frames / secs),
      framesPerViewerSec: +(r.frames / secs / VIEWERS).toFixed(1),
      eventsPerFrame: +(r.deliveries / Math.max(1, r.frames)).toFixed(2),
      serverCores: +serverCores.toFixed(2),
      usPerDelivery: +((serverCores * 1e6) / (r.deliveries / secs)).toFixed(2),
      redisCores: +((b.cpu.redis - a.cpu.redis) / secs).toFixed(2),
      p50FromScheduleMs: +r.latency.quantile(0.5).toFixed(1),
      p99FromScheduleMs: +r.latency.quantile(0.99).toFixed(1),
      lost: target - r.measured,
      senderBehindMaxMs: +behind.toFixed(1),
      clientElu: +performance.eventLoopUtilization(b.elu, a.elu).utilization.toFixed(2),
    };
    console.log(JSON.stringify(out));
    return out;
  } finally {
    rec = null;
    for (const c of closers) c();
    await server.stop();
  }
}

async function main() {
  console.log(`batch-fanout: ${VIEWERS} viewers x ${RATE} msg/s from ${SENDERS} senders, ${SECONDS} s measured, modes ${MODES.join(' ')} x ${PAIRS} rounds; load ${loadavg()[0]!.toFixed(2)}`);
  const all: Record<string, Awaited<ReturnType<typeof run>>[]> = {};
  for (let i = 0; i < PAIRS; i++) for (const m of MODES) (all[m] ??= []).push(await run(m));
  const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const summary = Object.fromEntries(
    Object.entries(all).map(([m, rs]) => [
      m,
      {
        usPerDelivery: med(rs.map((r) => r.usPerDelivery)),
        framesPerSec: med(rs.map((r) => r.framesPerSec)),
        p99FromScheduleMs: med(rs.map((r) => r.p99FromScheduleMs)),
        p50FromScheduleMs: med(rs.map((r) => r.p50FromScheduleMs)),
        serverCores: med(rs.map((r) => r.serverCores)),
        lost: Math.max(...rs.map((r) => r.lost)),
      },
    ]),
  );
  console.log(`RESULT ${JSON.stringify({ viewers: VIEWERS, rate: RATE, senders: SENDERS, seconds: SECONDS, pairs: PAIRS, summary })}`);
}

runMain(main);
