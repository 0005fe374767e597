/**
 * Chat history and sending. One Lua script decides a message atomically — ban, mute, blocked
 * words, rate limit, slow mode — then appends it to the room's capped Redis Stream and counts it
 * toward engagement, in a single round trip.
 *
 * Safe to retry: a message sent with a clientId is remembered (per user, 10 min), so sending it
 * again returns the stored message instead of posting it twice; and a send that reaches Redis
 * after its deadline (Redis was stalled and the sender was told UNAVAILABLE) does nothing.
 */
import type { RedisClient } from '../core/redis-client.js';
import { foldForMatch, type ChatMessage, type ErrorCode, type UserRef } from '../protocol/index.js';
import { AppError, lateWrite } from '../core/errors.js';
import { ENGAGEMENT_WEIGHTS, roomCommentersKey, roomKey, roomStatsKey } from '../core/keys.js';
import { RATE_LIMIT_LUA } from '../core/rate-limit.js';
import { streamFields } from '../core/redis-util.js';
import { DEADLINE_LUA, writeDeadline } from '../core/redis-guard.js';
import { moderationKeys } from './moderation-store.js';

/** How long a clientId is remembered: far longer than any client keeps retrying one message. */
export const CHAT_CLIENT_ID_TTL_MS = 10 * 60_000;

/** How many recent messages recentNameOf reads: one XREVRANGE, bounded, on a rare staff action. */
const NAME_SCAN = 500;

// KEYS: stream, stats, mutes, bans, settings, rate key, slow key, sent-by-clientId key (or '' when none),
//       commenters (the live's set of users who commented: giveaway rule `commenters`)
// ARGV: userId, name, text, folded text (protocol/text.ts), now, maxlen, rlMax, rlWindowMs, weight, slow-exempt,
//       deadline, clientId TTL ms
// → {'OK', id} | {'DUP', id, fields...} (the stored message; no fields if it was deleted) | {'ERR', code, detail?}
const SEND_SCRIPT = `
local deadline = tonumber(ARGV[11])
${DEADLINE_LUA}
if ARGV[12] ~= '' then
  local first = redis.call('GET', KEYS[8])
  if first then
    local rows = redis.call('XRANGE', KEYS[1], first, first)
    if rows[1] then return {'DUP', first, rows[1][2]} end
    return {'DUP', first}
  end
end
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return {'ERR', 'BANNED'} end
local now = tonumber(ARGV[5])
local mutedUntil = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if mutedUntil > now then return {'ERR', 'MUTED', mutedUntil} end
local settings = redis.call('HMGET', KEYS[5], 'slow', 'words')
if settings[2] then
  for w in string.gmatch(settings[2], '[^\\n]+') do
    if string.find(ARGV[4], w, 1, true) then return {'ERR', 'BLOCKED_WORD', w} end
  end
end
local rlKey, rlMax, rlWindowMs = KEYS[6], tonumber(ARGV[7]), tonumber(ARGV[8])
${RATE_LIMIT_LUA}
local slow = tonumber(settings[1] or '0')
if slow > 0 and ARGV[10] ~= '1' then
  if not redis.call('SET', KEYS[7], '1', 'PX', slow * 1000, 'NX') then
    return {'ERR', 'SLOW_MODE', redis.call('PTTL', KEYS[7])}
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*', 'u', ARGV[1], 'n', ARGV[2], 't', ARGV[3], 'at', ARGV[5])
redis.call('HINCRBY', KEYS[2], 'chatMessages', 1)
redis.call('SADD', KEYS[9], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'engagement', ARGV[9])
if ARGV[12] ~= '' then redis.call('SET', KEYS[8], id, 'PX', ARGV[12]) end
return {'OK', id}
`;

type SendReply = [string, string | number, (string | number | string[])?];

interface ChatCommands {
  chatSend(...args: (string | number)[]): Promise<SendReply>;
}

export interface ChatLimits {
  historyMax: number;
  ratePer10s: number;
}

export const chatStreamKey = (roomId: string) => roomKey(roomId, 'chat');

export class ChatStore {
  private readonly cmd: ChatCommands;

  constructor(
    private readonly redis: RedisClient,
    private readonly limits: ChatLimits,
  ) {
    redis.defineCommand('chatSend', { numberOfKeys: 9, lua: SEND_SCRIPT });
    this.cmd = redis as unknown as ChatCommands;
  }

  /**
   * Append a message or throw the reason it was refused. With a clientId already used by this
   * user in this room, returns the message stored then (`replayed`) and stores nothing.
   */
  async send(
    roomId: string,
    user: UserRef,
    text: string,
    slowModeExempt: boolean,
    clientId?: string,
    now = Date.now(),
  ): Promise<{ message: ChatMessage; replayed: boolean }> {
    const k = moderationKeys(roomId);
    const reply = await this.cmd.chatSend(
      chatStreamKey(roomId),
      roomStatsKey(roomId),
      k.mutes,
      k.bans,
      k.settings,
      roomKey(roomId, `rl:chat:${user.id}`),
      roomKey(roomId, `slow:${user.id}`),
      // Always a key of this room, so the script stays in one slot even without a clientId.
      roomKey(roomId, `chat:sent:${user.id}:${clientId ?? ''}`),
      roomCommentersKey(roomId),
      user.id,
      user.name,
      text,
      foldForMatch(text), // blocked words are stored folded too

      now,
      this.limits.historyMax,
      this.limits.ratePer10s,
      10_000,
      ENGAGEMENT_WEIGHTS.comment,
      slowModeExempt ? '1' : '0',
      writeDeadline(this.redis, now),
      clientId ? CHAT_CLIENT_ID_TTL_MS : '',
    );
    if (reply[0] === 'OK') return { message: { id: String(reply[1]), user, text, at: now }, replayed: false };
    if (reply[0] === 'DUP') {
      const id = String(reply[1]);
      // Deleted (or trimmed) since: the ack still names the message the first send created.
      const fields = Array.isArray(reply[2]) ? reply[2] : ['u', user.id, 'n', user.name, 't', text, 'at', String(parseInt(id, 10))];
      return { message: toMessage(id, fields), replayed: true };
    }
    if (reply[1] === 'LATE') throw lateWrite();
    throw refusal(reply[1] as ErrorCode, reply[2] as string | number | undefined, this.limits.ratePer10s, now);
  }

  /** Newest `limit` messages before `before` (exclusive), oldest first. */
  async history(roomId: string, limit: number, before?: string): Promise<ChatMessage[]> {
    // Nothing precedes 0-0, and Redis refuses an exclusive range ending there: answer empty.
    if (before !== undefined && /^0+-0+$/.test(before)) return [];
    const end = before ? `(${before}` : '+';
    const rows = await this.redis.xrevrange(chatStreamKey(roomId), end, '-', 'COUNT', limit);
    return rows.reverse().map(([id, fields]) => toMessage(id, fields));
  }

  /** Deletes a message; returns it as it was (author and text, for the audit log), or null if there was none. */
  async delete(roomId: string, messageId: string): Promise<ChatMessage | null> {
    const key = chatStreamKey(roomId);
    // One transaction, so the message we report is the entry we removed.
    const [[, rows], [, removed]] = (await this.redis.multi().xrange(key, messageId, messageId).xdel(key, messageId).exec()) as [
      [unknown, [string, string[]][]],
      [unknown, number],
    ];
    const entry = rows[0];
    return removed === 1 && entry ? toMessage(entry[0], entry[1]) : null;
  }

  /**
   * The name a user last chatted under in this room, from the newest `scan` messages; null when
   * they said nothing there lately. Names are not stored server-side anywhere else, and staff
   * moderate people they saw in chat: this lets the audit log say who, not only which id.
   */
  async recentNameOf(roomId: string, userId: string, scan = NAME_SCAN): Promise<string | null> {
    const rows = await this.redis.xrevrange(chatStreamKey(roomId), '+', '-', 'COUNT', scan);
    for (const [, fields] of rows) {
      const f = streamFields(fields);
      if (f.u === userId) return f.n ?? null;
    }
    return null;
  }
}

function toMessage(id: string, fields: string[]): ChatMessage {
  const f = streamFields(fields);
  return { id, user: { id: f.u ?? '', name: f.n ?? '' }, text: f.t ?? '', at: Number(f.at ?? 0) };
}

// MUTED and SLOW_MODE carry retryAfterMs like RATE_LIMITED: clients show a countdown or a local
// time from it instead of parsing the message.
function refusal(code: ErrorCode, detail: string | number | undefined, ratePer10s: number, now: number): AppError {
  switch (code) {
    case 'BANNED':
      return new AppError('BANNED', 'you are banned from this room');
    case 'MUTED':
      return new AppError('MUTED', `you are muted until ${new Date(Number(detail)).toISOString()}`, Math.max(0, Number(detail) - now));
    case 'BLOCKED_WORD':
      return new AppError('BLOCKED_WORD', `message contains a blocked word: "${String(detail)}"`);
    case 'SLOW_MODE':
      return new AppError('SLOW_MODE', `slow mode: wait ${Math.ceil(Number(detail) / 1000)} s`, Math.max(0, Number(detail)));
    case 'RATE_LIMITED':
      return new AppError('RATE_LIMITED', `at most ${ratePer10s} messages per 10 seconds`);
    default:
      return new AppError('INTERNAL', 'chat script answered unexpectedly');
  }
}
