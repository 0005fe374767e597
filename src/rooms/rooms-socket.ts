/** Socket events of the rooms domain: join/leave, stats, hearts, share and follow. */
import { countOutcomes } from '../core/metrics.js';
import { requireRole } from '../core/roles.js';
import { joinedRoom, requireUser, type EventRouter } from '../core/socket-kit.js';
import type { RoomsDomain } from './rooms-domain.js';

export function registerRoomEvents(router: EventRouter, rooms: RoomsDomain): void {
  router.on('room:join', countOutcomes(rooms.metrics.joins, (socket, { roomId }) => rooms.join(socket, roomId)));

  router.on('room:leave', async (socket) => ({ left: await rooms.leave(socket) }));

  router.on('room:stats', async (socket) => {
    const roomId = joinedRoom(socket);
    const room = await rooms.store.require(roomId);
    requireRole(room, socket.data.user, 'moderator', 'see room statistics');
    const [presence, totals] = await Promise.all([rooms.presence.count(roomId), rooms.engagement.totals(roomId)]);
    return { ...presence, hearts: totals.hearts, engagement: totals.engagement, chatMessages: totals.chatMessages };
  });

  // The busiest event of a live: no async frame of its own. The tap joins its room's batch of
  // this turn and the batch's answer resolves the ack (heart-tap-batcher.ts); the broadcast and
  // the hearts metric follow once per batch (RoomsDomain's onHearts), not per tap.
  router.on('heart:tap', countOutcomes(rooms.metrics.heartTaps, (socket, { count }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'send hearts');
    return rooms.engagement.tapHearts(roomId, user.id, count);
  }));

  router.on('engage:share', async (socket) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'share');
    return { engagement: await rooms.engagement.share(roomId, user.id) };
  });

  router.on('engage:follow', async (socket) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'follow');
    const { engagement, already } = await rooms.engagement.follow(roomId, user.id);
    return { engagement, alreadyFollowing: already };
  });
}
