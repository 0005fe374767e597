/**
 * The chat domain: messages, history, and moderation (delete, mute, ban, slow mode, blocked
 * words) with its audit log. Bans are enforced at join (joinGuard) and on every message.
 */
import type { ModerationSettings, Role, Room, UserRef } from '../protocol/index.js';
import type { Domain, DomainDeps } from '../core/domain.js';
import { AppError } from '../core/errors.js';
import { roomChannel, staffChannel, userChannel } from '../core/keys.js';
import { atLeast, canModerate, requireRole, roleOf } from '../core/roles.js';
import { imitationOf } from '../core/impersonation.js';
import { joinedRoom, requireUser, type EventRouter, type LiveSocket } from '../core/socket-kit.js';
import { chatMetrics } from './chat-metrics.js';
import { countOutcomes } from '../core/metrics.js';
import { ChatStore } from './chat-store.js';
import { ModerationStore, type AuditTarget } from './moderation-store.js';

export class ChatDomain implements Domain {
  readonly name = 'chat';
  readonly chat: ChatStore;
  readonly moderation: ModerationStore;
  private readonly metrics;

  constructor(private readonly deps: DomainDeps) {
    this.chat = new ChatStore(deps.redis, {
      historyMax: deps.config.CHAT_HISTORY_MAX,
      ratePer10s: deps.config.CHAT_RATE_PER_10S,
    });
    this.moderation = new ModerationStore(deps.redis);
    this.metrics = chatMetrics(deps.metrics);
  }

  async joinGuard(room: Room, user: UserRef | null): Promise<void> {
    if (user && (await this.moderation.isBanned(room.id, user.id))) {
      throw new AppError('BANNED', 'you are banned from this room');
    }
  }

  async snapshotPart(room: Room, _user: UserRef | null, role: Role): Promise<Record<string, unknown>> {
    const [messages, settings] = await Promise.all([
      this.chat.history(room.id, 50),
      this.moderation.settings(room.id),
    ]);
    return { chat: { messages, moderation: atLeast(role, 'moderator') ? settings : publicSettings(settings) } };
  }

  async rolePart(room: Room, _user: UserRef | null, role: Role): Promise<Record<string, unknown>> {
    const settings = await this.moderation.settings(room.id);
    return { moderation: atLeast(role, 'moderator') ? settings : publicSettings(settings) };
  }

  /** Staff see the blocked-word list; viewers only the slow mode (the list would teach evasion). */
  private announceSettings(roomId: string, settings: ModerationSettings): void {
    const { io } = this.deps;
    io.to(roomChannel(roomId)).except(staffChannel(roomId)).emit('room:settings', publicSettings(settings));
    io.to(staffChannel(roomId)).emit('room:settings', settings);
  }

  registerEvents(router: EventRouter): void {
    const { io } = this.deps;

    router.on('chat:send', countOutcomes(this.metrics.messages, async (socket, { text, clientId }) => {
      const roomId = joinedRoom(socket);
      const user = requireUser(socket, 'chat');
      const room = await this.deps.rooms.require(roomId);
      const imitated = imitationOf(room, user);
      if (imitated) throw new AppError('FORBIDDEN', `your display name looks like ${imitated}; sign in with another name to chat here`);
      const { message } = await this.chat.send(roomId, user, text, atLeast(roleOf(room, user), 'moderator'), clientId);
      // A replay (a retry of a clientId) is broadcast again: the first attempt may have been stored
      // by a Redis that stalled before answering, and then nobody was told. Clients drop a
      // chat:message whose id they already have.
      io.to(roomChannel(roomId)).emit('chat:message', message);
      return message;
    }));

    router.on('chat:history', async (socket, { before, limit }) => {
      const roomId = joinedRoom(socket);
      return this.chat.history(roomId, limit, before);
    });

    router.on('mod:delete', async (socket, { messageId }) => {
      const { roomId, actor } = await this.staff(socket, 'delete messages');
      const deleted = await this.chat.delete(roomId, messageId);
      if (deleted === null) throw new AppError('NOT_FOUND', 'message not found');
      io.to(roomChannel(roomId)).emit('chat:deleted', { messageId });
      // The author is the target, and the text is kept: an audit must show whose words were
      // removed and what they said, or a disputed deletion cannot be judged afterwards.
      const author = deleted.user.id ? { id: deleted.user.id, name: deleted.user.name || null } : null;
      await this.moderation.audit(roomId, actor, 'delete', author, { messageId, text: deleted.text });
      return { deleted: true };
    });

    router.on('mod:mute', async (socket, { userId, seconds }) => {
      const { roomId, actor } = await this.staffOver(socket, userId, 'mute');
      const until = Date.now() + seconds * 1000;
      await this.moderation.mute(roomId, userId, until);
      io.to(userChannel(userId)).emit('user:muted', { roomId, until });
      await this.moderation.audit(roomId, actor, 'mute', await this.target(roomId, userId), { seconds, until });
      return { userId, until };
    });

    router.on('mod:unmute', async (socket, { userId }) => {
      // Same rank rules as muting: otherwise a moderator the host muted could lift their own mute.
      const { roomId, actor } = await this.staffOver(socket, userId, 'unmute');
      await this.moderation.unmute(roomId, userId);
      await this.moderation.audit(roomId, actor, 'unmute', await this.target(roomId, userId), {});
      return { userId };
    });

    router.on('mod:ban', async (socket, { userId, reason }) => {
      const { roomId, actor } = await this.staffOver(socket, userId, 'ban');
      await this.moderation.ban(roomId, userId);
      await this.deps.membership.evict(roomId, userId, 'banned');
      await this.moderation.audit(roomId, actor, 'ban', await this.target(roomId, userId), reason ? { reason } : {});
      return { userId };
    });

    router.on('mod:unban', async (socket, { userId }) => {
      const { roomId, actor } = await this.staffOver(socket, userId, 'unban');
      if (!(await this.moderation.unban(roomId, userId))) throw new AppError('NOT_FOUND', 'user is not banned');
      await this.moderation.audit(roomId, actor, 'unban', await this.target(roomId, userId), {});
      return { userId };
    });

    router.on('mod:slow-mode', async (socket, { seconds }) => {
      const { roomId, actor } = await this.staff(socket, 'set slow mode');
      const settings = await this.moderation.setSlowMode(roomId, seconds);
      this.announceSettings(roomId, settings);
      await this.moderation.audit(roomId, actor, 'slow-mode', null, { seconds });
      return settings;
    });

    router.on('mod:blocked-words', async (socket, { words }) => {
      const { roomId, actor } = await this.staff(socket, 'set blocked words');
      const settings = await this.moderation.setBlockedWords(roomId, words);
      this.announceSettings(roomId, settings);
      await this.moderation.audit(roomId, actor, 'blocked-words', null, { count: settings.blockedWords.length });
      return settings;
    });

    router.on('mod:audit', async (socket, { limit }) => {
      const { roomId } = await this.staff(socket, 'read the audit log');
      return this.moderation.auditLog(roomId, limit);
    });
  }

  /** Who an action is on, named as the room's chat last saw them. */
  private async target(roomId: string, userId: string): Promise<AuditTarget> {
    return { id: userId, name: await this.chat.recentNameOf(roomId, userId) };
  }

  /** The caller must be host or moderator of the room it has joined. */
  private async staff(socket: LiveSocket, action: string): Promise<{ roomId: string; actor: UserRef; role: Role }> {
    const roomId = joinedRoom(socket);
    const room = await this.deps.rooms.require(roomId);
    const role = requireRole(room, socket.data.user, 'moderator', action);
    return { roomId, actor: requireUser(socket, action), role };
  }

  /** As staff(), and the caller must outrank the target (nobody acts on the host). */
  private async staffOver(socket: LiveSocket, targetUserId: string, action: string) {
    const roomId = joinedRoom(socket);
    const room = await this.deps.rooms.require(roomId);
    const role = requireRole(room, socket.data.user, 'moderator', action);
    const actor = requireUser(socket, action);
    if (!canModerate(room, actor, targetUserId)) throw new AppError('FORBIDDEN', `you may not ${action} this user`);
    return { roomId, actor, role };
  }
}

const publicSettings = (s: ModerationSettings): ModerationSettings => ({ slowModeSeconds: s.slowModeSeconds, blockedWords: [] });
