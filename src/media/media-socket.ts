/**
 * Media signaling on the room's Socket.IO connection. Payloads arrive validated by the protocol
 * schemas (EventRouter); here: who may do it, then mediasoup. The order a client follows:
 * capabilities → create-transport → (produce | consume → resume-consumer); connect-transport
 * when mediasoup-client's transport asks for it.
 */
import type { types as ms } from 'mediasoup';
import type { ClientEventName } from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import { atLeast, canWatch, requireRole } from '../core/roles.js';
import type { EventHandler, EventRouter } from '../core/socket-kit.js';
import type { ProducerAction } from './cascade-messages.js';
import { mediaCall, type MediaDomain } from './media-domain.js';
import type { RoomMedia } from './room-media.js';
import { roomStats, workerStats } from './media-metrics.js';

export function registerMediaEvents(router: EventRouter, domain: MediaDomain): void {
  // mediasoup's own errors (it validates RTP parameters deeply) become MEDIA_ERROR acks.
  const on = <E extends ClientEventName>(event: E, handler: EventHandler<E>) =>
    router.on(event, (socket, payload) => mediaCall(() => handler(socket, payload), domain.deps.log));

  on('media:capabilities', async (socket) => {
    const { media } = await domain.context(socket);
    return { routerRtpCapabilities: await media.rtpCapabilities() };
  });

  on('media:create-transport', async (socket, { direction }) => {
    const { room, media, peer } = await domain.context(socket);
    if (direction === 'send') requireRole(room, socket.data.user, 'host', 'publish video');
    const t = await media.createTransport(peer, direction);
    return { id: t.id, direction, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  });

  on('media:connect-transport', async (socket, { transportId, dtlsParameters }) => {
    const { peer } = await domain.context(socket);
    await peer.transport(transportId).transport.connect({ dtlsParameters: dtlsParameters as ms.DtlsParameters });
    return { connected: true as const };
  });

  on('media:produce', async (socket, { transportId, kind, rtpParameters, appData }) => {
    const { room, media, peer } = await domain.context(socket);
    requireRole(room, socket.data.user, 'host', 'publish video');
    const producer = await media.produce(peer, transportId, kind, rtpParameters as unknown as ms.RtpParameters, appData);
    return { id: producer.id };
  });

  on('media:consume', async (socket, { producerId, rtpCapabilities, transportId }) => {
    const { room, role, media, peer } = await domain.context(socket);
    if (!canWatch(room, socket.data.user)) throw new AppError('UNAUTHORIZED', 'sign in to watch this room');
    // Before the live starts only the host and moderators may look (camera checks).
    if (room.status !== 'live' && !atLeast(role, 'moderator')) throw new AppError('ROOM_NOT_LIVE', 'the live has not started');
    const consumer = await media.consume(peer, producerId, rtpCapabilities as ms.RtpCapabilities, transportId);
    return {
      id: consumer.id,
      producerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      type: consumer.type,
      producerPaused: consumer.producerPaused,
      paused: true as const,
    };
  });

  on('media:resume-consumer', async (socket, { consumerId }) => {
    const { media, peer } = await domain.context(socket);
    await media.resumeConsumer(peer, consumerId);
    return { consumerId };
  });

  on('media:set-layers', async (socket, { consumerId, spatialLayer, temporalLayer }) => {
    const { peer } = await domain.context(socket);
    const consumer = peer.consumer(consumerId);
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') {
      throw new AppError('BAD_REQUEST', 'this consumer has no layers (the producer is not simulcast/SVC)');
    }
    await consumer.setPreferredLayers(temporalLayer === undefined ? { spatialLayer } : { spatialLayer, temporalLayer });
    return { consumerId };
  });

  // The host controls every producer of the room, including the ingest's.
  // A producer of another node (an ingest that reached another node, a second host device) is
  // acted on at its origin.
  const control = async (media: RoomMedia, producerId: string, action: ProducerAction) => {
    if (!media.hasLocalProducer(producerId)) return domain.cascade.control(media.roomId, producerId, action);
    const producer = media.producer(producerId);
    if (action === 'pause') await producer.pause();
    else if (action === 'resume') await producer.resume();
    else producer.close();
    return { paused: producer.paused };
  };

  on('media:pause-producer', async (socket, { producerId }) => {
    const { room, media } = await domain.context(socket);
    requireRole(room, socket.data.user, 'host', 'pause video');
    await control(media, producerId, 'pause');
    return { producerId, paused: true as const };
  });

  on('media:resume-producer', async (socket, { producerId }) => {
    const { room, media } = await domain.context(socket);
    requireRole(room, socket.data.user, 'host', 'resume video');
    await control(media, producerId, 'resume');
    return { producerId, paused: false as const };
  });

  on('media:close-producer', async (socket, { producerId }) => {
    const { room, media } = await domain.context(socket);
    requireRole(room, socket.data.user, 'host', 'stop video');
    await control(media, producerId, 'close');
    return { producerId };
  });

  on('media:stats', async (socket) => {
    const { room, media } = await domain.context(socket);
    requireRole(room, socket.data.user, 'moderator', 'see media statistics');
    const [roomNumbers, workers] = await Promise.all([roomStats(media), workerStats(domain.pool)]);
    return { room: roomNumbers, workers };
  });
}
