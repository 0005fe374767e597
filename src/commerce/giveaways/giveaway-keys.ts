/**
 * Redis keys of giveaways. A giveaway's own keys carry the room's hash tag, so each script stays
 * in one Redis Cluster slot together with the room's bans, followers, commenters and buyers.
 * Two kinds of keys are global and never touched from inside a script: the due index every node's
 * sweeper reads, and the id → room keys the HTTP route (which names no room) resolves ids with.
 */
import { roomKey } from '../../core/keys.js';

export const GIVEAWAY_DUE = 'giveaways:due';
/** giveawayId → roomId, one string key each so it can expire with the giveaway's published data. */
export const giveawayRoomKey = (giveawayId: string): string => `giveaways:room:${giveawayId}`;

/** `<roomId>/<giveawayId>` in the due index (ids never contain '/'). */
export const giveawayRef = (roomId: string, giveawayId: string): string => `${roomId}/${giveawayId}`;
export function parseGiveawayRef(ref: string): { roomId: string; giveawayId: string } | null {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) return null;
  return { roomId: ref.slice(0, slash), giveawayId: ref.slice(slash + 1) };
}

/** Every giveaway of the room, scored by start time (caps them, lists the recent ones). */
export const roomGiveawaysKey = (roomId: string): string => roomKey(roomId, 'giveaways');

/** Hash `<hostId>|<requestId>` → the giveaway that start request made (replays of giveaway:start). */
export const roomGiveawayRequestsKey = (roomId: string): string => roomKey(roomId, 'giveaway-requests');

export interface GiveawayKeys {
  /** Hash: definition, status, secret seed and salt (until drawn), lease, winners. */
  giveaway: string;
  /** Hash userId → `via|name`: one field per entrant, so one entry per user. */
  entries: string;
}

export function giveawayKeys(roomId: string, giveawayId: string): GiveawayKeys {
  const base = roomKey(roomId, `giveaway:${giveawayId}`);
  return { giveaway: base, entries: `${base}:entries` };
}
