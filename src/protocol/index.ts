/**
 * The one protocol module: zod schemas for every client event and the typed event maps derived
 * from them. The server, the tests and client-demo import it, so a payload change is a compile
 * error everywhere it matters. Each domain's events live in their own file and are merged here.
 */
import type { z } from 'zod';
import type { Ack } from './errors.js';
import { liveEventSchemas, type LiveEventResults, type LiveServerEvents } from './live-events.js';
import { saleEventSchemas, type SaleEventResults, type SaleServerEvents } from './sales-events.js';
import { mediaEventSchemas, type MediaEventResults, type MediaServerEvents } from './media-events.js';
import { buyNowEventSchemas, type BuyNowEventResults, type BuyNowServerEvents } from './orders-events.js';
import type { BatchServerEvents } from './room-batch.js';
import { auctionEventSchemas, type AuctionEventResults, type AuctionServerEvents } from './auction-events.js';
import { giveawayEventSchemas, type GiveawayEventResults, type GiveawayServerEvents } from './giveaway-events.js';
import { voucherEventSchemas, type VoucherEventResults, type VoucherServerEvents } from './voucher-events.js';
import type { Role, UserRef } from './models.js';

export * from './errors.js';
export * from './models.js';
export * from './live-events.js';
export * from './sales-events.js';
export * from './media-events.js';
export * from './orders-events.js';
export * from './room-batch.js';
export * from './whip.js';
export * from './auction-events.js';
export * from './giveaway-events.js';
export * from './voucher-events.js';
export * from './text.js';

export const clientEventSchemas = {
  ...liveEventSchemas,
  ...saleEventSchemas,
  ...mediaEventSchemas,
  ...buyNowEventSchemas,
  ...auctionEventSchemas,
  ...giveawayEventSchemas,
  ...voucherEventSchemas,
};

export interface ClientEventResults
  extends LiveEventResults, SaleEventResults, MediaEventResults, BuyNowEventResults, AuctionEventResults, GiveawayEventResults, VoucherEventResults {}

export type ClientEventName = keyof typeof clientEventSchemas;
export type ClientPayload<E extends ClientEventName> = z.input<(typeof clientEventSchemas)[E]>;
export type ParsedPayload<E extends ClientEventName> = z.output<(typeof clientEventSchemas)[E]>;

export type ClientToServerEvents = {
  [E in ClientEventName]: (payload: ClientPayload<E>, ack: (res: Ack<ClientEventResults[E]>) => void) => void;
};

export interface ServerToClientEvents
  extends LiveServerEvents, SaleServerEvents, MediaServerEvents, BuyNowServerEvents, AuctionServerEvents, GiveawayServerEvents, VoucherServerEvents, BatchServerEvents {}

export interface SocketData {
  user: UserRef | null;
  /** The live room this connection has joined; one room per connection. */
  roomId: string | null;
  /** When the token this connection signed in with expires (epoch ms); null for guests. */
  tokenExpiresAt?: number | null;
  /** The role its channels were last set for (rooms domain). Persisted with a recovery session:
   * after recovery it tells whether the client must hear of a role change made while it was away. */
  role?: Role;
}

export const isClientEvent = (name: string): name is ClientEventName =>
  Object.prototype.hasOwnProperty.call(clientEventSchemas, name);
export * from './http-schemas.js';
