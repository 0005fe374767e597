/**
 * Rooms metrics: joins by outcome and hearts on this node, the rooms this node's connections are
 * in, and the rooms live in the whole deployment.
 *
 * `rooms_live` is read from Redis at scrape time (ZCARD of the live index, one key, O(1)) rather
 * than kept as counters of go-live/end transitions: a room goes live on one node and ends on
 * another, counters reset when a node restarts, and a sum of differences drifts for ever after one
 * missed transition, whereas the index is what the room list shows. Every node reports the same
 * cluster-wide value (aggregate with max, not sum). A scrape never waits on a stalled Redis: after
 * READ_TIMEOUT_MS the gauge reads NaN and `rooms_live_read_errors_total` counts it.
 */
import type { Registry } from 'prom-client';
import { counter, OutcomeCounter, sampledGauge, withTimeout } from '../core/metrics.js';
import type { LiveServer } from '../core/socket-kit.js';

const READ_TIMEOUT_MS = 500;

export function roomsMetrics(registry: Registry, io: LiveServer, liveCount: () => Promise<number>) {
  const readErrors = counter(registry, 'rooms_live_read_errors_total', 'Scrapes whose rooms_live read failed or timed out (the gauge then reads NaN)');
  sampledGauge(registry, 'rooms_live', 'Rooms live in the deployment (cluster-wide, read from Redis at scrape)', () =>
    withTimeout(liveCount(), READ_TIMEOUT_MS).catch(() => {
      readErrors.inc();
      return Number.NaN;
    }),
  );
  sampledGauge(registry, 'rooms_joined_local', 'Rooms that connections on this node have joined', () => {
    const rooms = new Set<string>();
    for (const socket of io.of('/').sockets.values()) if (socket.data.roomId) rooms.add(socket.data.roomId);
    return rooms.size;
  });
  sampledGauge(registry, 'room_members_local', 'Connections on this node that are in a room', () => {
    let n = 0;
    for (const socket of io.of('/').sockets.values()) if (socket.data.roomId) n++;
    return n;
  });
  return {
    joins: counter(registry, 'room_joins_total', 'room:join requests on this node, by outcome (ok or error code)', ['outcome']),
    hearts: counter(registry, 'hearts_total', 'Hearts counted on this node (a tap carries one or more)'),
    // Counted thousands of times a second in a rush: see OutcomeCounter.
    heartTaps: new OutcomeCounter(registry, 'heart_taps_total', 'heart:tap requests on this node, by outcome'),
  };
}

export type RoomsMetrics = ReturnType<typeof roomsMetrics>;
