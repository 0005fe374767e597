/**
 * Moderation state of a room — mutes (user → until), bans, slow mode, blocked words — and the
 * audit log, a capped Redis Stream that host and moderators can read.
 */
import type { RedisClient } from '../core/redis-client.js';
import type { AuditEntry, ModerationSettings, UserRef } from '../protocol/index.js';
import { AUDIT_MAX, roomAuditKey, roomBansKey, roomKey } from '../core/keys.js';
import { streamFields } from '../core/redis-util.js';

export const moderationKeys = (roomId: string) => ({
  mutes: roomKey(roomId, 'mutes'),
  bans: roomBansKey(roomId),
  settings: roomKey(roomId, 'modsettings'),
  audit: roomAuditKey(roomId),
});

export class ModerationStore {
  constructor(private readonly redis: RedisClient) {}

  async mute(roomId: string, userId: string, until: number): Promise<void> {
    await this.redis.hset(moderationKeys(roomId).mutes, userId, until);
  }

  async unmute(roomId: string, userId: string): Promise<void> {
    await this.redis.hdel(moderationKeys(roomId).mutes, userId);
  }

  async ban(roomId: string, userId: string): Promise<void> {
    await this.redis.sadd(moderationKeys(roomId).bans, userId);
  }

  async unban(roomId: string, userId: string): Promise<boolean> {
    return (await this.redis.srem(moderationKeys(roomId).bans, userId)) === 1;
  }

  async isBanned(roomId: string, userId: string): Promise<boolean> {
    return (await this.redis.sismember(moderationKeys(roomId).bans, userId)) === 1;
  }

  async settings(roomId: string): Promise<ModerationSettings> {
    const [slow, words] = await this.redis.hmget(moderationKeys(roomId).settings, 'slow', 'words');
    return { slowModeSeconds: Number(slow ?? 0), blockedWords: words ? words.split('\n') : [] };
  }

  async setSlowMode(roomId: string, seconds: number): Promise<ModerationSettings> {
    await this.redis.hset(moderationKeys(roomId).settings, 'slow', seconds);
    return this.settings(roomId);
  }

  /** Replaces the list. Stored newline-joined so the chat script can scan it without JSON. */
  async setBlockedWords(roomId: string, words: string[]): Promise<ModerationSettings> {
    const unique = [...new Set(words.map((w) => w.replace(/\n/g, ' ')))];
    if (unique.length) await this.redis.hset(moderationKeys(roomId).settings, 'words', unique.join('\n'));
    else await this.redis.hdel(moderationKeys(roomId).settings, 'words');
    return this.settings(roomId);
  }

  async audit(roomId: string, actor: UserRef, action: string, targetUserId: string | null, detail: Record<string, unknown>): Promise<void> {
    await this.redis.xadd(
      moderationKeys(roomId).audit,
      'MAXLEN',
      '~',
      AUDIT_MAX,
      '*',
      'action', action,
      'actorId', actor.id,
      'actorName', actor.name,
      'target', targetUserId ?? '',
      'detail', JSON.stringify(detail),
      'at', Date.now(),
    );
  }

  /** Newest first. */
  async auditLog(roomId: string, limit: number): Promise<AuditEntry[]> {
    const rows = await this.redis.xrevrange(moderationKeys(roomId).audit, '+', '-', 'COUNT', limit);
    return rows.map(([id, fields]) => {
      const f = streamFields(fields);
      return {
        id,
        action: f.action ?? '',
        actor: { id: f.actorId ?? '', name: f.actorName ?? '' },
        targetUserId: f.target || null,
        detail: JSON.parse(f.detail ?? '{}') as Record<string, unknown>,
        at: Number(f.at ?? 0),
      };
    });
  }
}
