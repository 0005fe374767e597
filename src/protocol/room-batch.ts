/**
 * The room batch frame. High-rate room broadcasts (chat lines, deletions, heart and viewer counts,
 * stock levels, "just bought") are coalesced per room by the server and arrive as ONE Socket.IO
 * event, `room:batch`, whose single argument lists the events in the order they were emitted:
 * `[[eventName, payload], …]`, each payload exactly what the individual event would have carried.
 * A frame costs the server a write per viewer whatever it carries, so a busy room costs per flush,
 * not per message (docs/PROTOCOL.md, "Batched room events").
 *
 * Clients keep their per-event handlers: `unpackRoomBatch(socket)` dispatches every entry of a
 * batch to the listeners registered for its event, as if it had arrived on its own. The same
 * events may also still arrive singly (a connection state recovery replays what was stored before
 * an upgrade, and a server may send any of them unbatched), so handlers must not care which.
 */
import { z } from 'zod';
import type { LiveServerEvents } from './live-events.js';
import type { SaleServerEvents } from './sales-events.js';
import type { BuyNowServerEvents } from './orders-events.js';
import type { AuctionServerEvents } from './auction-events.js';
import type { VoucherServerEvents } from './voucher-events.js';

type RoomServerEvents = LiveServerEvents & SaleServerEvents & BuyNowServerEvents & AuctionServerEvents & VoucherServerEvents;

/** The events a server may put in a `room:batch`. Adding one (say `auction:state`) is one line here. */
export const BATCHABLE_EVENTS = [
  'chat:message',
  'chat:deleted',
  'hearts:update',
  'presence:update',
  'sale:stock',
  'sale:bought',
  'sale:waitlist-length',
  'buy:stock',
  'buy:bought',
  'buy:waitlist-length',
  'auction:state',
  'voucher:stock',
] as const satisfies readonly (keyof RoomServerEvents)[];

export type BatchableEvent = (typeof BATCHABLE_EVENTS)[number];

const batchable: ReadonlySet<string> = new Set(BATCHABLE_EVENTS);
export const isBatchableEvent = (name: unknown): name is BatchableEvent => typeof name === 'string' && batchable.has(name);

/** One entry of a batch: an event name and the payload that event carries (derived from the event map). */
export type RoomBatchEntry = { [E in BatchableEvent]: [event: E, payload: Parameters<RoomServerEvents[E]>[0]] }[BatchableEvent];
export type RoomBatch = RoomBatchEntry[];

/**
 * The envelope: a non-empty list of `[batchable event name, payload]`. Payloads are server-made
 * and typed by RoomBatchEntry; the schema checks the envelope a client relies on to dispatch.
 */
export const roomBatchSchema = z.array(z.tuple([z.enum(BATCHABLE_EVENTS), z.unknown()])).min(1);

export interface BatchServerEvents {
  /** Coalesced room events in emission order; see unpackRoomBatch. */
  'room:batch': (batch: RoomBatch) => void;
}

/** What unpackRoomBatch needs of a socket.io-client Socket (kept structural: this module runs in browsers and tests alike). */
export interface BatchReceivingSocket {
  on(event: 'room:batch', listener: (batch: RoomBatch) => void): unknown;
  off(event: 'room:batch', listener: (batch: RoomBatch) => void): unknown;
  listeners(event: string): ((...args: never[]) => unknown)[];
}

/**
 * Makes a socket deliver every entry of each `room:batch` to the listeners of that entry's event,
 * in order, so `socket.on('chat:message', …)` sees batched messages like single ones. Call it
 * once per socket, before joining a room. Returns the function that undoes it.
 *
 * Entries that are not `[string, payload]` pairs are skipped (a newer server may batch events this
 * client does not know: they reach whoever listens for them, like any unknown event).
 */
export function unpackRoomBatch<S extends BatchReceivingSocket>(socket: S): () => void {
  const onBatch = (batch: RoomBatch) => {
    if (!Array.isArray(batch)) return;
    for (const entry of batch as unknown[]) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue;
      // A copy: `once` listeners remove themselves while we iterate.
      for (const listener of [...socket.listeners(entry[0])]) {
        try {
          (listener as (payload: unknown) => unknown)(entry[1]);
        } catch (err) {
          // One failing handler must not cost the rest of the batch their delivery (as a single
          // event's failure costs no other event); the error still surfaces, uncaught.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
  };
  socket.on('room:batch', onBatch);
  return () => void socket.off('room:batch', onBatch);
}
