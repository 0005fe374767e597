/**
 * WHIP ingest (RFC 9725) for encoders that publish over WebRTC (OBS 30+, GStreamer whipsink,
 * browsers): POST an SDP offer with the room host's bearer token, get the answer and a resource
 * URL; DELETE that URL to stop. PATCH supports trickle ICE (accepted and ignored: mediasoup is
 * ICE-lite and learns the client's address from its checks) and ICE restarts. Everything is
 * checked before anything is allocated. A WHIP session lives on the node that answered the POST;
 * its resource URL works on any node (a PATCH or DELETE elsewhere is forwarded to it,
 * whip-sessions.ts).
 */
import express, { type Request, type Response, type Router } from 'express';
import {
  roomIdParams,
  whipResourceParams,
  WHIP_MAX_SDP_BYTES,
  WHIP_SDP_TYPE,
  WHIP_SDPFRAG_TYPE,
} from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import { parseBody, requireHttpUser } from '../core/http-kit.js';
import { requireRole } from '../core/roles.js';
import type { MediaDomain } from './media-domain.js';
import { MAX_PRODUCERS_PER_PEER } from './peer-media.js';
import { MEDIA_CODECS } from './room-routers.js';
import { WhipIngest } from './whip-ingest.js';
import { parseFragment } from './whip-answer.js';
import { ingestCapabilities, negotiate, parseOffer } from './whip-sdp.js';
import type { WhipPlace, WhipReply } from './whip-sessions.js';

/** Where a WHIP resource lives. Relative, as RFC 9725 allows: clients resolve it against the
 * endpoint URL they used, so it stays right behind a proxy or under another host name. */
export const whipResourcePath = (roomId: string, resourceId: string) => `/whip/rooms/${roomId}/resources/${resourceId}`;

const textBody = express.text({ type: [WHIP_SDP_TYPE, WHIP_SDPFRAG_TYPE], limit: WHIP_MAX_SDP_BYTES });

/** The body as text, once its Content-Type is `type` (415 otherwise; 413 over the limit). Read
 * only after the caller's checks, so refused requests never have their body parsed. */
async function readBody(req: Request, res: Response, type: string): Promise<string> {
  if (!req.is(type)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${type}`);
  await new Promise<void>((done, fail) => textBody(req, res, (err?: unknown) => (err ? fail(err) : done())));
  return typeof req.body === 'string' ? req.body : '';
}

/** A body with exactly this Content-Type (express would add a charset to a string). */
const sendTyped = (res: Response, status: number, type: string, body: string) => res.status(status).type(type).send(Buffer.from(body));

export function registerWhipRoutes(router: Router, domain: MediaDomain): void {
  const { rooms } = domain.deps;
  const caps = ingestCapabilities(MEDIA_CODECS);

  const release = (roomId: string) =>
    domain.releaseIfUnused(roomId).catch((err: unknown) => domain.deps.log.warn({ err, roomId }, 'releasing room media after WHIP failed'));

  /** The caller must be the room's host; the room must exist and not have ended. */
  async function hostRoom(req: Request, roomId: string, action: string) {
    const user = requireHttpUser(req);
    const room = await rooms.require(roomId);
    requireRole(room, user, 'host', action);
    return { user, room };
  }

  /** The caller is the room's host (checked here, before anything is forwarded), and where the
   * room's resource is: on this node or another. */
  async function resource(req: Request, action: string): Promise<{ roomId: string; resourceId: string; place: WhipPlace }> {
    const { roomId, resourceId } = parseBody(whipResourceParams, req.params);
    await hostRoom(req, roomId, action);
    return { roomId, resourceId, place: await domain.whip.locate(roomId, resourceId) };
  }

  /** Answer with what the session's node said. */
  function reply(res: Response, r: WhipReply): void {
    if (r.etag) res.set('ETag', r.etag);
    if (r.sdpfrag !== undefined) sendTyped(res, r.status, WHIP_SDPFRAG_TYPE, r.sdpfrag);
    else res.status(r.status).end();
  }

  router.options('/whip/rooms/:roomId', (_req, res) => {
    res.set('Accept-Post', WHIP_SDP_TYPE).status(204).end();
  });

  router.post('/whip/rooms/:roomId', async (req, res) => {
    const { roomId } = parseBody(roomIdParams, req.params);
    const { user, room } = await hostRoom(req, roomId, 'stream into this room');
    if (room.status === 'ended') throw new AppError('ROOM_ENDED', 'this live has ended');
    const plan = negotiate(parseOffer(await readBody(req, res, WHIP_SDP_TYPE)), caps, MAX_PRODUCERS_PER_PEER);
    let ingest: WhipIngest;
    try {
      ingest = await domain.startIngest(roomId, user.id, (media) =>
        media.startExclusiveIngest(user.id, { source: 'whip' }, (origin, publish) => WhipIngest.create(roomId, user.id, origin, plan, publish)),
      );
    } catch (err) {
      // The room's media may have been created for this request alone.
      await release(roomId);
      throw err;
    }
    await domain.whip.add(ingest);
    const fields = { roomId, resourceId: ingest.id, userId: user.id };
    const codecs = ingest.producers.map((p) => p.rtpParameters.codecs[0]?.mimeType);
    domain.deps.log.info({ ...fields, codecs }, 'WHIP session started');
    ingest.onClose((reason) => {
      domain.deps.log.info({ ...fields, reason }, 'WHIP session ended');
      void release(roomId);
    });
    res.set({ Location: whipResourcePath(roomId, ingest.id), ETag: ingest.etag, 'Accept-Patch': WHIP_SDPFRAG_TYPE });
    sendTyped(res, 201, WHIP_SDP_TYPE, ingest.answer());
  });

  router.patch('/whip/rooms/:roomId/resources/:resourceId', async (req, res) => {
    const { roomId, resourceId, place } = await resource(req, 'update the stream');
    const { ufrag, pwd } = parseFragment(await readBody(req, res, WHIP_SDPFRAG_TYPE));
    // Capped for the trip to another node: no longer value could name an ETag of ours anyway.
    const ifMatch = req.headers['if-match']?.slice(0, 256);
    const action = { method: 'PATCH' as const, ...(ufrag !== undefined ? { ufrag } : {}), ...(pwd !== undefined ? { pwd } : {}), ...(ifMatch !== undefined ? { ifMatch } : {}) };
    reply(res, await domain.whip.act(roomId, resourceId, place, action));
  });

  router.delete('/whip/rooms/:roomId/resources/:resourceId', async (req, res) => {
    const { roomId, resourceId, place } = await resource(req, 'stop the stream');
    reply(res, await domain.whip.act(roomId, resourceId, place, { method: 'DELETE' }));
  });
}
