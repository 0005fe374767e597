/**
 * Per-node socket metrics: connections, every event's ack latency and error codes, and the frames
 * this node broadcasts to rooms. Event names are labels only when the protocol knows them (the
 * rest share 'unknown'), so a client inventing event names cannot grow the series.
 */
import type { Namespace } from 'socket.io';
import type { Registry } from 'prom-client';
import { isClientEvent, type Ack } from '../protocol/index.js';
import { counter, LATENCY_BUCKETS, sampledGauge } from './metrics.js';
import { OneLabelHistogram, TalliedCounter } from './tallied-metrics.js';

type Adapter = Namespace['adapter'];

export const eventLabel = (event: unknown): string => (typeof event === 'string' && isClientEvent(event) ? event : 'unknown');

export class SocketMetrics {
  readonly connections;
  readonly disconnects;
  private readonly ackLatency;
  private readonly errors;
  private readonly broadcasts;

  /** `connected`: read at scrape time (the server is built after its adapter, which needs this). */
  constructor(registry: Registry, connected: () => number) {
    sampledGauge(registry, 'socket_connected', 'Socket.IO connections open on this node', connected);
    this.connections = counter(registry, 'socket_connections_total', 'Socket.IO connections accepted by this node');
    // Socket.IO's disconnect reasons are a short fixed list ("transport close", "ping timeout", ...).
    this.disconnects = counter(registry, 'socket_disconnects_total', 'Socket.IO connections closed on this node, by reason', ['reason']);
    // Observed for every event a socket sends: tallied (tallied-metrics.ts), not prom-client's own.
    this.ackLatency = new OneLabelHistogram(
      registry,
      'socket_event_duration_seconds',
      'Time from an event arriving to its ack, by event (unknown names as "unknown")',
      'event',
      LATENCY_BUCKETS,
    );
    this.errors = new TalliedCounter(registry, 'socket_event_errors_total', 'Events answered with an error, by event and error code', ['event', 'code']);
    this.broadcasts = counter(
      registry,
      'socket_broadcast_frames_total',
      'Emits to rooms and channels that started on this node (each is one frame per receiving socket), by event',
      ['event'],
    );
  }

  observeEvent(event: unknown, res: Ack<unknown>, seconds: number): void {
    const label = eventLabel(event);
    this.ackLatency.observe(label, seconds);
    if (!res.ok) this.errors.add(label, res.error.code);
  }

  /**
   * The adapter factory with broadcasts counted. Every `io.to(...).emit` of this node goes through
   * its adapter's broadcast; broadcasts arriving from other nodes are delivered through the base
   * class's method instead, so each frame is counted once, on the node that sent it.
   */
  countBroadcasts<A extends Adapter>(factory: (nsp: Namespace) => A): (nsp: Namespace) => A {
    const broadcasts = this.broadcasts;
    // A function, not an arrow: Socket.IO calls the adapter option with `new`.
    return function countingAdapter(nsp) {
      const adapter = factory(nsp);
      const broadcast = adapter.broadcast.bind(adapter);
      adapter.broadcast = (packet, opts) => {
        const name: unknown = Array.isArray(packet.data) ? packet.data[0] : undefined;
        broadcasts.inc({ event: typeof name === 'string' ? name : 'unknown' });
        return broadcast(packet, opts);
      };
      return adapter;
    };
  }
}
