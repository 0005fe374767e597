/**
 * Live-room events: rooms, chat, hearts, engagement, pins, moderation. index.ts merges this with
 * the other domains' event files into the one protocol.
 */
import { z } from 'zod';
import type {
  AuditEntry,
  BagChange,
  ChatMessage,
  JoinSnapshot,
  ModerationSettings,
  PinState,
  PresenceCounts,
  Product,
  RoleUpdate,
  Room,
  RoomStats,
  UserRef,
} from './models.js';
import { foldForMatch, normaliseText } from './text.js';

// Ids are opaque strings we generate; bound their size so they can't bloat keys or logs.
export const idSchema = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'invalid id');

// Normalised (src/protocol/text.ts): NFKC, invisible and bidi-control characters removed, so a
// message of only zero-width or blank-looking characters is empty and refused.
export const chatTextSchema = z
  .string()
  .max(2000, 'message too long')
  .transform(normaliseText)
  .pipe(z.string().min(1, 'message is empty after removing invisible characters').max(500, 'message longer than 500 characters'));

// Blocked words are kept in their folded form, the form chat text is matched in.
/** The folded blocked-word list, as JSON, is at most this many bytes: it travels in every staff `room:settings` and snapshot. */
export const BLOCKED_WORDS_MAX_BYTES = 4096;
const blockedWordSchema = z.string().max(200).transform(foldForMatch).pipe(z.string().min(1, 'empty word').max(50));

/**
 * Chosen by the client, one per message it types: sending `chat:send` again with the same
 * clientId (after a timeout, an UNAVAILABLE or a lost ack) returns the message stored the first
 * time instead of posting it twice. At least 8 characters (use a UUID); remembered 10 minutes.
 */
export const clientMessageIdSchema = z
  .string()
  .min(8, 'clientId needs at least 8 characters (use a UUID)')
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'invalid clientId');

// Chat message ids are Redis Stream ids (`<ms>-<seq>`); anything else handed to XRANGE or
// XDEL makes Redis answer an error, so it is refused here as a bad request.
export const messageIdSchema = z.string().regex(/^\d{1,19}-\d{1,19}$/, 'invalid message id');

const empty = z.object({}).strict().optional().default({});

/** Client → server events, each with the schema of its payload. */
export const liveEventSchemas = {
  'room:join': z.object({ roomId: idSchema }).strict(),
  'room:leave': empty,
  'room:stats': empty,

  'chat:send': z.object({ text: chatTextSchema, clientId: clientMessageIdSchema.optional() }).strict(),
  'chat:history': z
    .object({ before: messageIdSchema.optional(), limit: z.number().int().min(1).max(100).default(50) })
    .strict(),

  'heart:tap': z.object({ count: z.number().int().min(1).max(20).default(1) }).strict().optional().default({ count: 1 }),

  'engage:share': empty,
  'engage:follow': empty,
  'engage:save': z.object({ productId: idSchema }).strict(),

  'pin:set': z.object({ productId: idSchema }).strict(),
  'pin:clear': empty,
  'pin:history': z.object({ limit: z.number().int().min(1).max(100).default(20) }).strict().optional().default({ limit: 20 }),

  'mod:delete': z.object({ messageId: messageIdSchema }).strict(),
  'mod:mute': z.object({ userId: idSchema, seconds: z.number().int().min(1).max(7 * 24 * 3600) }).strict(),
  'mod:unmute': z.object({ userId: idSchema }).strict(),
  'mod:ban': z.object({ userId: idSchema, reason: z.string().trim().max(200).optional() }).strict(),
  'mod:unban': z.object({ userId: idSchema }).strict(),
  'mod:slow-mode': z.object({ seconds: z.number().int().min(0).max(3600) }).strict(),
  'mod:blocked-words': z
    .object({
      words: z
        .array(blockedWordSchema)
        .max(200)
        // Measured on the folded words, which are what is stored and broadcast: NFKC can make a
        // word several times longer (㍿ → 株式会社), so the input's size bounds nothing. (TextEncoder:
        // this module also runs in browsers.)
        .refine((words) => new TextEncoder().encode(JSON.stringify(words)).length <= BLOCKED_WORDS_MAX_BYTES, {
          message: `blocked words over ${BLOCKED_WORDS_MAX_BYTES} bytes (as JSON, after normalising)`,
        }),
    })
    .strict(),
  'mod:audit': z.object({ limit: z.number().int().min(1).max(500).default(100) }).strict().optional().default({ limit: 100 }),
} satisfies Record<string, z.ZodType>;

export interface PinHistoryEntry {
  productId: string | null;
  by: string;
  at: number;
}

/** What each client event's ack carries on success. */
export interface LiveEventResults {
  'room:join': JoinSnapshot;
  'room:leave': { left: boolean };
  'room:stats': RoomStats;
  'chat:send': ChatMessage;
  'chat:history': ChatMessage[];
  'heart:tap': { counted: number };
  'engage:share': { engagement: number };
  'engage:follow': { engagement: number; alreadyFollowing: boolean };
  'engage:save': { engagement: number; alreadySaved: boolean };
  'pin:set': PinState;
  'pin:clear': PinState;
  'pin:history': PinHistoryEntry[];
  'mod:delete': { deleted: boolean };
  'mod:mute': { userId: string; until: number };
  'mod:unmute': { userId: string };
  'mod:ban': { userId: string };
  'mod:unban': { userId: string };
  'mod:slow-mode': ModerationSettings;
  'mod:blocked-words': ModerationSettings;
  'mod:audit': AuditEntry[];
}

/** Server → client events. */
export interface LiveServerEvents {
  'chat:message': (msg: ChatMessage) => void;
  'chat:deleted': (p: { messageId: string }) => void;
  'hearts:update': (p: { total: number }) => void;
  'presence:update': (p: PresenceCounts) => void;
  'pin:changed': (p: PinState) => void;
  'bag:changed': (p: BagChange) => void;
  'room:status': (p: { room: Room }) => void;
  'room:settings': (p: ModerationSettings) => void;
  'room:removed': (p: { roomId: string; reason: 'banned' | 'ended' }) => void;
  /** Sent to the joining connection just before its room:join ack; see docs/PROTOCOL.md. */
  'room:joined': (p: { roomId: string }) => void;
  'room:role': (p: RoleUpdate) => void;
  'user:muted': (p: { roomId: string; until: number }) => void;
  'error:event': (p: { event: string; code: string; message: string }) => void;
  /** The connection's token expired; the server disconnects it next. Reconnect with a new token. */
  'auth:expired': (p: { expiredAt: number }) => void;
  /** This connection is over a cap (a recovered session over MAX_CONNECTIONS_PER_*); the server disconnects it next. */
  'connection:refused': (p: { code: 'LIMIT_EXCEEDED'; message: string }) => void;
}
