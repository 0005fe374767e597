/**
 * The buyers' side of bench/flash-sale.ts: connecting thousands of socket.io-client sockets, the
 * rush itself (every buyer taps once, timed per tap), and the bare Socket.IO reference run with
 * the very same crowd mechanics (bench/flash-sale-bare-server.ts).
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { io as connectIo, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ErrorCode, ServerToClientEvents } from '../src/protocol/index.js';

export type Buyer = Socket<ServerToClientEvents, ClientToServerEvents>;

const BURST_TIMEOUT_MS = 120_000;

export function connect(url: string, token: string): Promise<Buyer> {
  const socket: Buyer = connectIo(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  return new Promise((ok, fail) => {
    socket.once('connect', () => ok(socket));
    socket.once('connect_error', fail);
  });
}

export async function inBatches(n: number, size: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += size) {
    await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => fn(i + j)));
  }
}

import { quantile } from './bench-kit.js';


/**
 * Every buyer taps once, as fast as this process can send. The taps go out in slices of
 * `emitSlice` with a macrotask between slices: one synchronous loop over thousands of sockets
 * would keep this process from reading any ack until the loop ends, and every latency would
 * then measure our own send loop instead of the server. Resolves when every tap is answered.
 */
export async function rush(crowd: Buyer[], saleId: string, emitSlice: number) {
  const latencies = new Array<number>(crowd.length);
  const refusals: Partial<Record<ErrorCode, number>> = {};
  let heldUnits = 0;
  let lastAck = 0;
  let lastEmit = 0;
  const first = performance.now();
  await new Promise<void>((done, fail) => {
    let pending = crowd.length;
    const timer = setTimeout(() => fail(new Error(`${pending} reserves unanswered after ${BURST_TIMEOUT_MS} ms`)), BURST_TIMEOUT_MS);
    const tap = (i: number) => {
      const sentAt = performance.now();
      crowd[i]!.emit('sale:reserve', { saleId, qty: 1, requestId: randomUUID() }, (res) => {
        lastAck = performance.now();
        latencies[i] = lastAck - sentAt;
        if (res.ok) heldUnits += res.data.qty;
        else refusals[res.error.code] = (refusals[res.error.code] ?? 0) + 1;
        if (--pending === 0) {
          clearTimeout(timer);
          done();
        }
      });
    };
    const slice = (from: number) => {
      for (let i = from; i < Math.min(from + emitSlice, crowd.length); i++) tap(i);
      lastEmit = performance.now();
      if (from + emitSlice < crowd.length) setImmediate(slice, from + emitSlice);
    };
    slice(0);
  });
  return { latencies, heldUnits, refusals, first, lastAck, emitMs: lastEmit - first };
}

export interface BareResult {
  acksPerSec: number;
  burstMs: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuUsPerTap: number;
}

/** The same crowd and taps against a bare Socket.IO server that acks at once (flash-sale-bare-server.ts). */
export async function runBare(opts: { root: string; buyers: number; connectConcurrency: number; warmupRounds: number; emitSlice: number }): Promise<BareResult> {
  const child = fork(resolve(opts.root, 'bench/flash-sale-bare-server.ts'), [], { cwd: opts.root, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`bare server exited early (${code})`)));
    child.on('message', (m: { type: string; url?: string }) => m.type === 'ready' && ok(m.url!));
  });
  const crowd: Buyer[] = [];
  try {
    await inBatches(opts.buyers, opts.connectConcurrency, async () => {
      crowd.push(await connect(url, 'unused'));
    });
    for (let round = 0; round < opts.warmupRounds; round++) await rush(crowd, 'bare', opts.emitSlice);
    child.send({ type: 'usage-start' });
    const r = await rush(crowd, 'bare', opts.emitSlice);
    const cpuMs = await new Promise<number>((ok) => {
      child.on('message', (m: { type: string; cpuMs?: number }) => m.type === 'usage' && ok(m.cpuMs!));
      child.send({ type: 'usage-stop' });
    });
    const burstMs = r.lastAck - r.first;
    const sorted = r.latencies.sort((a, b) => a - b);
    return {
      acksPerSec: crowd.length / (burstMs / 1000),
      burstMs,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      serverCpuUsPerTap: (cpuMs * 1000) / crowd.length,
    };
  } finally {
    for (const s of crowd) s.disconnect();
    child.send({ type: 'stop' });
    await new Promise<void>((done) => (child.exitCode !== null ? done() : child.once('exit', () => done())));
  }
}

