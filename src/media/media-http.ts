/**
 * HTTP routes of the media domain: the RTP ingest for hosts who stream from OBS, ffmpeg or
 * GStreamer. The answer carries what the sender needs: address, RTP and RTCP ports, payload
 * types and SSRCs (README: a working ffmpeg command line).
 */
import type { Router } from 'express';
import { ingestBody, roomIdParams } from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import { parseBody, requireHttpUser } from '../core/http-kit.js';
import { requireRole } from '../core/roles.js';
import type { MediaDomain } from './media-domain.js';

export function registerMediaRoutes(router: Router, domain: MediaDomain): void {
  const { rooms } = domain.deps;

  router.post('/api/rooms/:roomId/ingest', async (req, res) => {
    const user = requireHttpUser(req);
    const { roomId } = parseBody(roomIdParams, req.params);
    const room = await rooms.require(roomId);
    requireRole(room, user, 'host', 'stream into this room');
    if (room.status === 'ended') throw new AppError('ROOM_ENDED', 'this live has ended');
    const opts = parseBody(ingestBody, req.body);
    const info = await domain.startIngest(roomId, user.id, (media) => media.startIngest(user.id, opts));
    res.status(201).json(info);
  });

  router.delete('/api/rooms/:roomId/ingest', async (req, res) => {
    const user = requireHttpUser(req);
    const { roomId } = parseBody(roomIdParams, req.params);
    requireRole(await rooms.require(roomId), user, 'host', 'stop the stream');
    const media = domain.existingRoomMedia(roomId);
    if (!media || !(await media.stopIngest())) throw new AppError('NOT_FOUND', 'no ingest in this room');
    await domain.releaseIfUnused(roomId);
    res.status(204).end();
  });
}
