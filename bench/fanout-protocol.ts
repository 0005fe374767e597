/**
 * What bench/chat-fanout.ts and its forked load generators (fanout-senders.ts,
 * fanout-receivers.ts) say to each other, and the chat text that carries each message's identity:
 * `fo <phase> <seq> <scheduledEpochMs> <pad>`. The scheduled time is fixed by the open-loop
 * schedule before the message is sent, so a receiver in another process measures latency from it.
 */
import type { Busy, HistogramJson } from './bench-kit.js';
import type { ChatMessage } from '../src/protocol/index.js';

export type Target = 'ours' | 'baseline';

export interface SendersConfig {
  senders: number;
  oursUrl: string;
  wsUrl: string;
  roomId: string;
  jwtSecret: string;
}

export interface ReceiversConfig {
  index: number;
  generators: number;
  viewers: number;
  oursUrl: string;
  wsUrl: string;
  roomId: string;
  jwtSecret: string;
  connectConcurrency: number;
}

/** One measured (or warm-up) window: `count` messages at `rate`/s from `startAt` (epoch ms). */
export interface Phase {
  type: 'phase';
  id: number;
  target: Target;
  startAt: number;
  count: number;
  rate: number;
}

export type ToSenders = Phase | { type: 'stop' };
export type FromSenders =
  | { type: 'ready' }
  | { type: 'sent'; id: number; lateness: HistogramJson; ack: HistogramJson; ackErrors: Record<string, number>; busy: Busy; sample: ChatMessage | null; frameBytes: number | null };

export type ToReceivers = Phase | { type: 'drain'; id: number; timeoutMs: number } | { type: 'quiet'; target: Target; quietMs: number; timeoutMs: number } | { type: 'stop' };
export type FromReceivers =
  | { type: 'ready'; viewers: number }
  | {
      type: 'report';
      id: number;
      /** Latency of every measured delivery, from the message's scheduled send time. */
      latency: HistogramJson;
      delivered: number;
      expected: number;
      /** Messages and frames received inside the phase's send window (throughput). */
      messagesInWindow: number;
      framesInWindow: number;
      busy: Busy;
      strays: number;
    }
  | { type: 'quiet'; target: Target; quiet: boolean };

const PREFIX = 'fo ';
// Chat lines are short; pad to a typical one-liner so the frame size is realistic (~80 chars).
const PAD = 'great scarf, does it come in blue? asking for my mum';

export function benchText(phase: number, seq: number, scheduledAt: number): string {
  return `${PREFIX}${phase} ${seq} ${scheduledAt.toFixed(3)} ${PAD}`;
}

/** [phase, seq, scheduledAt] of a bench message, or null for any other text. */
export function parseBenchText(text: unknown): [number, number, number] | null {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) return null;
  const parts = text.split(' ', 4);
  const phase = Number(parts[1]);
  const seq = Number(parts[2]);
  const at = Number(parts[3]);
  return Number.isFinite(phase) && Number.isFinite(seq) && Number.isFinite(at) ? [phase, seq, at] : null;
}
