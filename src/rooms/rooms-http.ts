/** HTTP routes of the rooms domain: create, list (trending), get, go live, end, moderators. */
import type { Router } from 'express';
import type { RoomSummary } from '../protocol/index.js';
import { createRoomBody, listRoomsQuery, roomIdParams, roomUserParams } from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import { parseBody, requireHttpUser } from '../core/http-kit.js';
import { newId } from '../core/ids.js';
import { roomChannel } from '../core/keys.js';
import { canWatch, requireRole } from '../core/roles.js';
import { newRoom, transition } from './room-model.js';
import type { RoomsDomain } from './rooms-domain.js';

export function registerRoomRoutes(router: Router, rooms: RoomsDomain): void {
  const { store } = rooms;

  router.post('/api/rooms', async (req, res) => {
    const host = requireHttpUser(req);
    const body = parseBody(createRoomBody, req.body);
    const room = newRoom(newId('r_'), host, body, Date.now());
    const max = rooms.limits.ROOMS_PER_USER;
    if (!(await store.claimHosted(host.id, room.id, max))) {
      throw new AppError('LIMIT_EXCEEDED', `you already host ${max} rooms that have not ended; end one first`);
    }
    await store.create(room).catch(async (err: unknown) => {
      await store.releaseHosted(host.id, room.id).catch(() => undefined);
      throw err;
    });
    res.status(201).json({ room });
  });

  router.get('/api/rooms', async (req, res) => {
    const q = parseBody(listRoomsQuery, req.query);
    const found = await store.listed(q.status, q.limit);
    const visible = found.filter((r) => canWatch(r, req.user ?? null));
    const counters = await store.counters(visible.map((r) => r.id));
    const summaries: RoomSummary[] = visible.map((r, i) => ({
      ...r,
      viewers: counters[i]?.viewers ?? 0,
      peakViewers: counters[i]?.peak ?? 0,
      hearts: counters[i]?.hearts ?? 0,
      engagement: counters[i]?.engagement ?? 0,
    }));
    // status=all reads up to `limit` rooms from each index; the answer must still hold `limit`.
    res.json({ rooms: sortRooms(summaries, q.sort).slice(0, q.limit) });
  });

  router.get('/api/rooms/:roomId', async (req, res) => {
    const { roomId } = parseBody(roomIdParams, req.params);
    const room = await rooms.requireReadable(roomId, req.user ?? null);
    const [presence, totals] = await Promise.all([rooms.presence.count(roomId), rooms.engagement.totals(roomId)]);
    res.json({ room, presence, hearts: totals.hearts, engagement: totals.engagement });
  });

  const setStatus = (to: 'live' | 'ended') => async (req: import('express').Request, res: import('express').Response) => {
    const user = requireHttpUser(req);
    const { roomId } = parseBody(roomIdParams, req.params);
    const room = await store.require(roomId);
    requireRole(room, user, 'host', to === 'live' ? 'go live' : 'end the live');
    const next = transition(room, to, Date.now());
    await store.saveStatus(next, room.status);
    // Ending tells each member as part of evicting them (see RoomsDomain.endLive).
    if (to === 'ended') await rooms.endLive(next);
    else rooms.io.to(roomChannel(roomId)).emit('room:status', { room: next });
    res.json({ room: next });
  };
  router.post('/api/rooms/:roomId/live', setStatus('live'));
  router.post('/api/rooms/:roomId/end', setStatus('ended'));

  router.put('/api/rooms/:roomId/moderators/:userId', async (req, res) => {
    const user = requireHttpUser(req);
    const { roomId, userId } = parseBody(roomUserParams, req.params);
    const room = await store.require(roomId);
    requireRole(room, user, 'host', 'appoint moderators');
    if (userId === room.hostId) throw new AppError('BAD_REQUEST', 'the host is already in charge');
    const max = rooms.limits.ROOM_MODERATORS_MAX;
    if (!(await store.addModerator(roomId, userId, max))) throw new AppError('LIMIT_EXCEEDED', `a room has at most ${max} moderators`);
    await rooms.roleChanged(roomId, userId);
    res.json({ room: await store.require(roomId) });
  });

  router.delete('/api/rooms/:roomId/moderators/:userId', async (req, res) => {
    const user = requireHttpUser(req);
    const { roomId, userId } = parseBody(roomUserParams, req.params);
    const room = await store.require(roomId);
    requireRole(room, user, 'host', 'remove moderators');
    if (!(await store.removeModerator(roomId, userId))) throw new AppError('NOT_FOUND', 'not a moderator here');
    await rooms.roleChanged(roomId, userId);
    res.json({ room: await store.require(roomId) });
  });
}

function sortRooms(rooms: RoomSummary[], sort: 'trending' | 'viewers' | 'recent' | 'scheduled'): RoomSummary[] {
  const liveFirst = (a: RoomSummary, b: RoomSummary) => Number(b.status === 'live') - Number(a.status === 'live');
  const by: Record<typeof sort, (a: RoomSummary, b: RoomSummary) => number> = {
    trending: (a, b) => liveFirst(a, b) || b.engagement - a.engagement || b.viewers - a.viewers,
    viewers: (a, b) => liveFirst(a, b) || b.viewers - a.viewers,
    recent: (a, b) => b.createdAt - a.createdAt,
    scheduled: (a, b) => (a.scheduledStart ?? a.createdAt) - (b.scheduledStart ?? b.createdAt),
  };
  return [...rooms].sort(by[sort]);
}
