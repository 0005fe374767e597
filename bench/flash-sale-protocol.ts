/** What bench/flash-sale.ts and its forked processes say to each other over IPC. */
import type { Busy, HistogramJson } from './bench-kit.js';

/** ours: the real server; bare: a Socket.IO server that only acks (flash-sale-bare-server.ts). */
export type RushTarget = 'ours' | 'bare';

/** Both server processes: `ready`, their CPU on request (µs, from inside: idle when asked). */
export type ToServer = { type: 'cpu' } | { type: 'stop' };
export type FromServer = { type: 'ready'; url: string } | { type: 'cpu'; nodeUs: number; redisS: number | null };

export interface BuyersConfig {
  index: number;
  generators: number;
  buyers: number;
  urls: Record<RushTarget, string>;
  roomId: string;
  jwtSecret: string;
  connectConcurrency: number;
  emitSlice: number;
}

export type ToBuyers =
  /** Answer `armed` once every buyer of ours saw `sale:started` for this sale. */
  | { type: 'arm'; saleId: string }
  /** Every buyer taps once, all scheduled at epoch time `at`. */
  | { type: 'rush'; target: RushTarget; saleId: string; at: number }
  | { type: 'stop' };

export interface RushReport {
  type: 'rushed';
  /** Ack latency of every tap from the burst's scheduled start. */
  latency: HistogramJson;
  /** How late each tap left relative to the scheduled start. */
  lateness: HistogramJson;
  held: number;
  refusals: Record<string, number>;
  lastAckAt: number;
  busy: Busy;
}

export type FromBuyers = { type: 'ready' } | { type: 'armed' } | RushReport;

/** The like-for-like Redis baseline (flash-sale-redis.ts): the server's own SaleStore.reserve. */
export type ToRedisDriver = { type: 'run'; mode: 'batched' | 'single'; requests: number; units: number; at: number } | { type: 'stop' };
export type FromRedisDriver =
  | { type: 'ready' }
  | { type: 'ran'; mode: 'batched' | 'single'; reservesPerSec: number; latency: HistogramJson; lateness: HistogramJson; held: number; oversold: number; busy: Busy; redisCpuS: number | null };
