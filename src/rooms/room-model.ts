/** Pure rules of a room's life: creation and the scheduled → live → ended transitions. */
import type { Room, RoomStatus, UserRef } from '../protocol/index.js';
import { AppError } from '../core/errors.js';

export interface NewRoomInput {
  title: string;
  description: string;
  hostKind: 'buyer' | 'manager';
  isPublic: boolean;
  scheduledStart: number | null;
}

export function newRoom(id: string, host: UserRef, input: NewRoomInput, now: number): Room {
  return {
    id,
    title: input.title,
    description: input.description,
    hostId: host.id,
    hostName: host.name,
    hostKind: input.hostKind,
    isPublic: input.isPublic,
    status: 'scheduled',
    moderatorIds: [],
    scheduledStart: input.scheduledStart,
    createdAt: now,
    startedAt: null,
    endedAt: null,
  };
}

const NEXT: Record<RoomStatus, RoomStatus[]> = {
  scheduled: ['live', 'ended'],
  live: ['ended'],
  ended: [],
};

/** The room after moving to `to`, or CONFLICT when that move isn't allowed. */
export function transition(room: Room, to: RoomStatus, now: number): Room {
  if (!NEXT[room.status].includes(to)) {
    throw new AppError('CONFLICT', `room is ${room.status}; cannot become ${to}`);
  }
  return {
    ...room,
    status: to,
    startedAt: to === 'live' ? now : room.startedAt,
    endedAt: to === 'ended' ? now : room.endedAt,
  };
}
