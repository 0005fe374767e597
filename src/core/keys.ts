/**
 * Redis key layout. Every key of one room carries the hash tag `{room:<id>}` so all of a room's
 * keys sit in one Redis Cluster slot and a Lua script may touch them together. Global indexes
 * (room lists) are separate keys and are never touched from inside a room's script.
 */
export const roomTag = (roomId: string): string => `{room:${roomId}}`;
export const roomKey = (roomId: string, part: string): string => `${roomTag(roomId)}:${part}`;

/** Counters shared by several domains: hearts, engagement (CES), chat messages, peak viewers. */
export const roomStatsKey = (roomId: string): string => roomKey(roomId, 'stats');

/**
 * The room's banned user ids (a set). Written by the chat domain's moderation; read inside the
 * flash-sale scripts too, so a ban and a reserve/checkout are ordered atomically (same slot).
 */
export const roomBansKey = (roomId: string): string => roomKey(roomId, 'bans');

/**
 * Facts about this live that other domains' rules read (giveaway entry rules): who followed the
 * host here (rooms' engage:follow), who commented (chat:send) and who bought (flash-sale checkout).
 * Sets of user ids, written by the domain that owns the fact. roomBuyersKey is the key the sale
 * scripts already keep (sale-keys.ts `buyers`): same name, so both stay one set.
 */
export const roomFollowersKey = (roomId: string): string => roomKey(roomId, 'followers');
export const roomCommentersKey = (roomId: string): string => roomKey(roomId, 'commenters');
export const roomBuyersKey = (roomId: string): string => roomKey(roomId, 'sales:buyers');

/** Muted user ids → until (epoch ms), written by moderation; read inside the auction bid script. */
export const roomMutesKey = (roomId: string): string => roomKey(roomId, 'mutes');

/** The room's audit log (a capped stream) of moderation and other staff actions. Written by
 * moderation, by the auction cancel script in the same atomic step as the cancel, and by the
 * giveaway scripts. */
export const roomAuditKey = (roomId: string): string => roomKey(roomId, 'audit');
/** Entries the audit stream keeps (approximately; XADD MAXLEN ~). */
export const AUDIT_MAX = 10_000;

/** Socket.IO room names. */
export const roomChannel = (roomId: string): string => `room:${roomId}`;
export const userChannel = (userId: string): string => `user:${userId}`;
/** Host and moderators of a room: dashboards and moderation notices go here. */
export const staffChannel = (roomId: string): string => `staff:${roomId}`;

/** CES-style weights of live interactions, used to rank the live room list. */
export const ENGAGEMENT_WEIGHTS = { heart: 1, save: 1, comment: 4, share: 4, follow: 8 } as const;

/**
 * The room channel whose broadcasts must stay in order with those to `channel`: the room's own
 * channel for `room:<id>` and `staff:<id>` (staff are also in the room), null for the rest.
 * Room batching (core/room-batching.ts) flushes that room's pending frame before such a broadcast.
 */
export const roomChannelOf = (channel: string): string | null =>
  channel.startsWith('room:') ? channel : channel.startsWith('staff:') ? `room:${channel.slice('staff:'.length)}` : null;
