/**
 * Room micro-batching, at the adapter: every `io.to(roomChannel(id)).emit(e, payload)` of a
 * batchable event (protocol/room-batch.ts) made on this node is queued per room and sent as one
 * `room:batch` frame per flush (core/room-batcher.ts has the timing). Domains keep emitting their
 * events one by one and never know.
 *
 * Where the batch is formed — on the sending node, before the adapter — was measured against
 * batching on each receiving node (docs/BENCHMARKS.md, "Room batching"): sending the batch
 * through the adapter makes it ONE Redis stream entry (one XADD, one JSON encode, one XREAD
 * decode on every node) instead of one per event, and connection state recovery keeps working
 * untouched, since the replayed packet is the same `room:batch` frame the live sockets got, with
 * its own offset. The price: a room whose events come from several nodes gets up to one frame per
 * window from each of them.
 *
 * Order: a non-batchable broadcast to a room (sale:started, pin:changed, room:settings …, also to
 * the room's staff channel) first flushes the room's pending frame, so every client sees the
 * room's events in emission order. Emits to a user's channel, to a socket, and `local` or
 * `volatile` ones are never batched and flush nothing.
 */
import type { Namespace } from 'socket.io';
import { isBatchableEvent } from '../protocol/index.js';
import { roomChannelOf } from './keys.js';
import { writeBatchFramesDirectly } from './direct-frames.js';
import { RoomBatcher, type BatchEntry, type FlushReason } from './room-batcher.js';

type Adapter = Namespace['adapter'];
type Packet = Parameters<Adapter['broadcast']>[0];
type BroadcastOptions = Parameters<Adapter['broadcast']>[1];

const EVENT = 2; // socket.io-parser PacketType.EVENT

export interface RoomBatchingOptions {
  maxEvents: number;
  /** The current window between two frames of a room (see LoadWindow). */
  windowMs: () => number;
  /** Told of every frame sent: the events in it and why it was sent (metrics). */
  onFrame?: (entries: readonly BatchEntry[], reason: FlushReason) => void;
}

/** The room channel a broadcast may be batched into, or null when it must go out as it is. */
function batchChannel(packet: Packet, opts: BroadcastOptions): string | null {
  if (packet.type !== EVENT || packet.id !== undefined || packet.data.length !== 2 || !isBatchableEvent(packet.data[0])) return null;
  if (opts.rooms.size !== 1 || (opts.except?.size ?? 0) > 0) return null;
  const flags = opts.flags;
  if (flags && (flags.local || flags.volatile || flags.timeout !== undefined)) return null;
  const [channel] = opts.rooms;
  return channel !== undefined && roomChannelOf(channel) === channel ? channel : null;
}

/**
 * Wraps an adapter factory so each namespace's adapter batches room broadcasts. The adapter's
 * close() flushes what is pending first, so a draining node sends its last frames before QUIT.
 */
export function batchedRoomBroadcasts<A extends Adapter>(factory: (nsp: Namespace) => A, options: RoomBatchingOptions): (nsp: Namespace) => A {
  // A function, not an arrow: Socket.IO calls the adapter option with `new`.
  return function batchingAdapter(nsp: Namespace): A {
    const adapter = factory(nsp);
    // This node's sockets get each batch frame, its own or another node's, at ws cost (direct-frames.ts).
    writeBatchFramesDirectly(adapter);
    const broadcast = adapter.broadcast.bind(adapter) as (packet: Packet, opts: BroadcastOptions) => Promise<void> | void;
    const batcher = new RoomBatcher({
      maxEvents: options.maxEvents,
      windowMs: options.windowMs,
      send(channel: string, entries: BatchEntry[], reason: FlushReason) {
        options.onFrame?.(entries, reason);
        return broadcast({ type: EVENT, data: ['room:batch', entries], nsp: nsp.name }, { rooms: new Set([channel]), except: new Set(), flags: {} });
      },
    });
    // The promise lets the drain count a queued event as in flight (core/drain.ts) until it is sent.
    adapter.broadcast = ((packet: Packet, opts: BroadcastOptions) => {
      const channel = batchChannel(packet, opts);
      if (channel) return batcher.add(channel, packet.data[0] as string, packet.data[1]);
      if (opts.rooms.size === 0) batcher.flushAll('ordered');
      for (const room of opts.rooms) {
        const ordered = roomChannelOf(room);
        if (ordered) batcher.flushNow(ordered);
      }
      return broadcast(packet, opts);
    }) as Adapter['broadcast'];
    const close = adapter.close.bind(adapter);
    adapter.close = () => {
      batcher.flushAll('close');
      return close();
    };
    return adapter;
  };
}
