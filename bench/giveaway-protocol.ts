/** Messages between bench/giveaway.ts and its entrants' generators (bench/giveaway-entrants.ts). */
import type { Busy, HistogramJson } from './bench-kit.js';

export interface EntrantsConfig {
  index: number;
  generators: number;
  entrants: number;
  /** The two server processes; entrant e joins urls[e % 2]. */
  urls: string[];
  roomId: string;
  jwtSecret: string;
  connectConcurrency: number;
}

export type ToEntrants = { type: 'enter'; giveawayId: string; t0: number; windowMs: number } | { type: 'stop' };

export type FromEntrants =
  | { type: 'ready' }
  | {
      type: 'entered';
      latency: HistogramJson;
      lateness: HistogramJson;
      /** User ids whose entry was acked ok. */
      entered: string[];
      refusals: Record<string, number>;
      lastAckAt: number;
      busy: Busy;
    };
