/**
 * Room batching metrics (core/room-batching.ts): frames this node sent for room batches, by why
 * they were sent, and how many events each carried. events ÷ frames is the coalescing achieved;
 * `full` frames mean BATCH_MAX_EVENTS is what limits them, `ordered` ones were cut short by a
 * non-batchable event to the room.
 */
import type { Registry } from 'prom-client';
import { counter, histogram } from './metrics.js';
import type { BatchEntry, FlushReason } from './room-batcher.js';

const EVENTS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export function roomBatchMetrics(registry: Registry): (entries: readonly BatchEntry[], reason: FlushReason) => void {
  const frames = counter(registry, 'room_batch_frames_total', 'room:batch frames flushed by this node, by reason (window, full, ordered, close)', ['reason']);
  const perFrame = histogram(registry, 'room_batch_events', 'Events carried per room:batch frame flushed by this node', [], EVENTS_BUCKETS);
  // Event names come from the protocol's batchable list only (room-batching.ts checks), so the label stays bounded.
  const byEvent = counter(registry, 'room_batched_events_total', 'Room events this node sent inside room:batch frames, by event', ['event']);
  return (entries, reason) => {
    frames.inc({ reason });
    perFrame.observe(entries.length);
    for (const [event] of entries) byEvent.inc({ event });
  };
}
