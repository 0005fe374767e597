/**
 * Redis keys of auctions. Everything a lot's scripts touch carries the room's hash tag
 * `{room:<id>}` (one Redis Cluster slot per room). One key is global and never touched from inside
 * a room's script: AUCTION_DUE, the lots the closers on every node must look at next, scored by
 * when (the lot's end, then its winner's hold expiry).
 */
import { roomKey } from '../../core/keys.js';

export const AUCTION_DUE = 'auctions:due';

/** `<roomId>/<lotId>` names a lot outside its room (ids never contain '/'). */
export const lotRef = (roomId: string, lotId: string): string => `${roomId}/${lotId}`;
export function parseLotRef(ref: string): { roomId: string; lotId: string } | null {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) return null;
  return { roomId: ref.slice(0, slash), lotId: ref.slice(slash + 1) };
}

export const roomAuctionKeys = (roomId: string) => ({
  /** Hash: `current` (the latest lot), `open` (the lot taking bids, '' when none). */
  room: roomKey(roomId, 'auction'),
  /** Every lot of the room, scored by start time. */
  all: roomKey(roomId, 'auctions'),
  /** Hash `hostId|requestId` → the lotId auction:start made. */
  requests: roomKey(roomId, 'auctions:requests'),
});

export interface LotKeys {
  /** Hash: the lot's definition and its state (price, leader, leaderMax, endsAt, status...). */
  lot: string;
  /** List of accepted bids, oldest first: `seq|user|amount|m|at|price|leader|name`. */
  bids: string;
  /** Hash `userId|requestId` → the first answer to that bid. */
  requests: string;
}

export function lotKeys(roomId: string, lotId: string): LotKeys {
  const lot = roomKey(roomId, `auction:${lotId}`);
  return { lot, bids: `${lot}:bids`, requests: `${lot}:requests` };
}

/** Per user per lot, for the bid rate limit. */
export const bidRateKey = (k: LotKeys, userId: string): string => `${k.lot}:rl:${userId}`;
