/**
 * Private measuring aid for the reserve path (issue 10, item 2), not one of the published
 * benchmarks: server CPU per `sale:reserve` tap of our server against a bare Socket.IO server
 * that acks at once, with both servers and both crowds kept up for the whole run and their
 * rushes interleaved (ours, bare, ours, bare, …), so a shared, busy machine slows both alike.
 * Each server runs in its own process (`ours` / `bare` mode of this very file); the buyers are
 * socket.io-client sockets in this process. A fresh sale of UNITS units per round.
 *
 *   PAIRS=5 BUYERS=5000 UNITS=1000 npx tsx bench/profile-reserve.ts
 *   PROFILE=1 …   also writes a CPU profile of each measured rush of both (profile-reserve-hook.ts)
 *
 * Prints per pair: CPU µs per tap of both, their ratio, ack p99 and taps answered per second.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';
import { io as connectIo, type Socket } from 'socket.io-client';
import { TokenService } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { createLogger } from '../src/core/logger.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/protocol/index.js';
import { startServer } from '../src/server.js';
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';

type Buyer = Socket<ServerToClientEvents, ClientToServerEvents>;
type Msg = { type: 'ready'; url: string } | { type: 'usage'; cpuUs: number } | { type: 'usage-start' } | { type: 'usage-stop' } | { type: 'stop' };

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..');
const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);

/** Under valgrind (CALLGRIND=1): instructions are counted only inside the measured window. */
const underCallgrind = process.env.RESERVE_CALLGRIND === '1';
const callgrind = (...args: string[]) => spawnSync('callgrind_control', [...args, String(process.pid)], { stdio: 'ignore' });

/** Server side (ours or bare): CPU over the window the driver marks. */
function serveUsage(onStop: () => void): void {
  let from: NodeJS.CpuUsage | null = null;
  process.on('message', (msg: Msg) => {
    if (msg.type === 'usage-start') {
      if (underCallgrind) callgrind('-i', 'on');
      from = process.cpuUsage();
    }
    if (msg.type === 'usage-stop' && from) {
      const d = process.cpuUsage(from);
      if (underCallgrind) {
        callgrind('-i', 'off');
        callgrind('-d');
      }
      process.send!({ type: 'usage', cpuUs: d.user + d.system } satisfies Msg);
    }
    if (msg.type === 'stop') onStop();
  });
  process.on('disconnect', onStop); // the driver went away: still stop our redis-server
}

async function oursServer(): Promise<void> {
  const redis = await startEmbeddedRedis({ persist: false });
  const config = loadConfig({}, { JWT_SECRET: process.env.BENCH_JWT_SECRET!, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', MEDIA_ENABLED: 'false', ...ONE_ADDRESS_CROWD });
  const server = await startServer(config, redis.url, createLogger(config.LOG_LEVEL));
  let stopping = false;
  serveUsage(() => {
    if (stopping) return;
    stopping = true;
    void server.close().finally(() => redis.stop().finally(() => process.exit(0)));
  });
  process.send!({ type: 'ready', url: server.url } satisfies Msg);
}

function bareServer(): void {
  const http = createServer();
  const io = new Server(http, { serveClient: false });
  const refusal = { ok: false, error: { code: 'SOLD_OUT', message: 'sold out' } };
  io.on('connection', (socket) => socket.on('sale:reserve', (_p: unknown, ack: (r: unknown) => void) => ack(refusal)));
  serveUsage(() => io.close(() => process.exit(0)));
  http.listen(0, '127.0.0.1', () => process.send!({ type: 'ready', url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` } satisfies Msg));
}

interface Child {
  url: string;
  proc: ChildProcess;
  cpuUs(measure: () => Promise<void>): Promise<number>;
}

function startChild(mode: 'ours' | 'bare', extraArgs: string[], env: NodeJS.ProcessEnv): Promise<Child> {
  const nodeArgs = ['--import', 'tsx', ...extraArgs];
  // CALLGRIND=1: each server under valgrind, counting instructions (user space only: the kernel's
  // share of each write is not in it) in the measured windows; callgrind.out.<pid> files in /tmp/rprof-cg.
  const valgrind = process.env.CALLGRIND === '1'
    ? { execPath: 'valgrind', execArgv: ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=/tmp/rprof-cg/${mode}.%p`, process.execPath, ...nodeArgs] }
    : { execArgv: nodeArgs };
  const proc = fork(SELF, [mode], { cwd: ROOT, ...valgrind, env: { ...env, RESERVE_CALLGRIND: process.env.CALLGRIND ?? '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((ok, fail) => {
    proc.once('exit', (code) => fail(new Error(`${mode} server exited (${code})`)));
    proc.once('message', (m: Msg) => {
      if (m.type !== 'ready') return fail(new Error(`unexpected ${m.type}`));
      ok({
        url: m.url,
        proc,
        async cpuUs(measure) {
          proc.send({ type: 'usage-start' } satisfies Msg);
          await measure();
          return new Promise((got) => {
            proc.once('message', (u: Msg) => u.type === 'usage' && got(u.cpuUs));
            proc.send({ type: 'usage-stop' } satisfies Msg);
          });
        },
      });
    });
  });
}

function connect(url: string, token: string): Promise<Buyer> {
  const socket: Buyer = connectIo(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  return new Promise((ok, fail) => {
    socket.once('connect', () => ok(socket));
    socket.once('connect_error', fail);
  });
}

async function inBatches(n: number, size: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += size) await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => fn(i + j)));
}

interface Rush {
  latencies: number[];
  held: number;
  codes: Record<string, number>;
  ms: number;
}

/** Every buyer taps once, in slices of 100 per macrotask; resolves when all are answered. */
function rush(crowd: Buyer[], saleId: string): Promise<Rush> {
  const latencies: number[] = [];
  const codes: Record<string, number> = {};
  let held = 0;
  const first = performance.now();
  return new Promise((done) => {
    let pending = crowd.length;
    const tap = (s: Buyer) => {
      const at = performance.now();
      s.emit('sale:reserve', { saleId, qty: 1, requestId: randomUUID() }, (res) => {
        latencies.push(performance.now() - at);
        if (res.ok) held += res.data.qty;
        else codes[res.error.code] = (codes[res.error.code] ?? 0) + 1;
        if (--pending === 0) done({ latencies, held, codes, ms: performance.now() - first });
      });
    };
    const slice = (from: number) => {
      for (let i = from; i < Math.min(from + 100, crowd.length); i++) tap(crowd[i]!);
      if (from + 100 < crowd.length) setImmediate(slice, from + 100);
    };
    slice(0);
  });
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(0.99 * xs.length) - 1] ?? NaN;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function api(url: string, method: string, path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function driver(): Promise<void> {
  const BUYERS = num('BUYERS', 5000);
  const UNITS = num('UNITS', 1000);
  const PAIRS = num('PAIRS', 5);
  const WARMUP = num('WARMUP', 2);
  const secret = randomBytes(24).toString('base64url');
  const env = { ...process.env, BENCH_JWT_SECRET: secret };
  const profArgs = process.env.PROFILE === '1' ? ['--import', resolve(ROOT, 'bench/profile-reserve-hook.ts')] : [];
  const [ours, bare] = await Promise.all([startChild('ours', profArgs, env), startChild('bare', profArgs, env)]);
  const all: Buyer[] = [];
  try {
    const tokens = new TokenService(secret, 'live-commerce');
    const hostToken = await tokens.sign({ id: 'u_host', name: 'Host' });
    const { room } = await api(ours.url, 'POST', '/api/rooms', hostToken, { title: 'Reserve profile', hostKind: 'manager' });
    const { product } = await api(ours.url, 'POST', `/api/rooms/${room.id}/products`, hostToken, { title: 'Scarf', price: 2999, currency: 'USD' });
    await api(ours.url, 'POST', `/api/rooms/${room.id}/live`, hostToken);
    const host = await connect(ours.url, hostToken);
    all.push(host);
    await host.emitWithAck('room:join', { roomId: room.id });
    const crowd: Buyer[] = [];
    const bareCrowd: Buyer[] = [];
    await inBatches(BUYERS, 100, async (i) => {
      const s = await connect(ours.url, await tokens.sign({ id: `u_b${i}`, name: `Buyer ${i}` }));
      all.push(s);
      crowd.push(s);
      const joined = await s.emitWithAck('room:join', { roomId: room.id });
      if (!joined.ok) throw new Error(joined.error.message);
      const b = await connect(bare.url, 'unused');
      all.push(b);
      bareCrowd.push(b);
    });
    const sale = async () => {
      const started = await host.emitWithAck('sale:start', { productId: product.id, price: 1999, quantity: UNITS, perUserLimit: 1, durationSec: 600 });
      if (!started.ok) throw new Error(started.error.message);
      return started.data.id;
    };
    for (let i = 0; i < WARMUP; i++) {
      const id = await sale();
      await rush(crowd, id);
      await host.emitWithAck('sale:stop', { saleId: id });
      await rush(bareCrowd, 'bare');
    }
    console.log(`${BUYERS} buyers on each server, ${UNITS} units per sale, ${PAIRS} pairs; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const ratios: number[] = [];
    for (let pair = 0; pair < PAIRS; pair++) {
      const id = await sale();
      await new Promise((r) => setTimeout(r, 300)); // the sale:started frames are out of the way
      // Room frames one buyer got during the measured window (each went to every buyer: BUYERS writes).
      const frames: string[] = [];
      const count = (name: string) => () => frames.push(name);
      const onStock = count('stock');
      const onSoldOut = count('sold-out');
      crowd[0]!.on('sale:stock', onStock).on('sale:sold-out', onSoldOut);
      let o!: Rush;
      const oursUs = (await ours.cpuUs(async () => void (o = await rush(crowd, id)))) / BUYERS;
      crowd[0]!.off('sale:stock', onStock).off('sale:sold-out', onSoldOut);
      await host.emitWithAck('sale:stop', { saleId: id });
      await new Promise((r) => setTimeout(r, 300));
      let b!: Rush;
      const bareUs = (await bare.cpuUs(async () => void (b = await rush(bareCrowd, 'bare')))) / BUYERS;
      ratios.push(oursUs / bareUs);
      const oversold = o.held > UNITS ? ' OVERSOLD' : '';
      console.log(
        `pair ${pair + 1}: ours ${oursUs.toFixed(1)} µs/tap, bare ${bareUs.toFixed(1)} µs/tap, ratio ${(oursUs / bareUs).toFixed(2)}; ` +
          `p99 ours ${p99(o.latencies).toFixed(0)} ms / bare ${p99(b.latencies).toFixed(0)} ms; ` +
          `taps/s ours ${Math.round(BUYERS / (o.ms / 1000))} / bare ${Math.round(BUYERS / (b.ms / 1000))}; held ${o.held}${oversold} ${JSON.stringify(o.codes)}; room frames ${frames.join(',') || 'none'}`,
      );
    }
    console.log(`ratio median ${median(ratios).toFixed(2)} (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}); load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    for (const s of all) s.disconnect();
    await Promise.all(
      [ours, bare].map((c) => {
        const exited = new Promise((done) => c.proc.once('exit', done));
        c.proc.send({ type: 'stop' } satisfies Msg);
        return exited;
      }),
    );
  }
}

const mode = process.argv[2];
const run = mode === 'ours' ? oursServer() : mode === 'bare' ? Promise.resolve(bareServer()) : driver().then(() => process.exit(0));
run.catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
