/**
 * Who may do what in a room. A role is a pure function of the room record and the user, so every
 * domain can check permissions without asking another domain.
 */
import type { Role, UserRef } from '../protocol/index.js';
import { AppError } from './errors.js';

export interface RoomAccessRecord {
  hostId: string;
  moderatorIds: readonly string[];
  isPublic: boolean;
}

export function roleOf(room: RoomAccessRecord, user: UserRef | null): Role {
  if (!user) return 'guest';
  if (user.id === room.hostId) return 'host';
  if (room.moderatorIds.includes(user.id)) return 'moderator';
  return 'viewer';
}

const RANK: Record<Role, number> = { guest: 0, viewer: 1, moderator: 2, host: 3 };

export const atLeast = (role: Role, min: Role): boolean => RANK[role] >= RANK[min];

/** Throws FORBIDDEN (or UNAUTHORIZED for guests) unless the user holds at least `min`. */
export function requireRole(room: RoomAccessRecord, user: UserRef | null, min: Role, action: string): Role {
  const role = roleOf(room, user);
  if (atLeast(role, min)) return role;
  if (role === 'guest') throw new AppError('UNAUTHORIZED', `sign in to ${action}`);
  throw new AppError('FORBIDDEN', `only the ${min === 'moderator' ? 'host or a moderator' : min} may ${action}`);
}

/** Moderators act on viewers; the host acts on anyone but themself; nobody acts on the host. */
export function canModerate(room: RoomAccessRecord, actor: UserRef, targetUserId: string): boolean {
  if (targetUserId === room.hostId || targetUserId === actor.id) return false;
  const actorRole = roleOf(room, actor);
  if (actorRole === 'host') return true;
  return actorRole === 'moderator' && !room.moderatorIds.includes(targetUserId);
}

/** Guests may watch public rooms only. */
export function canWatch(room: RoomAccessRecord, user: UserRef | null): boolean {
  return room.isPublic || user !== null;
}
