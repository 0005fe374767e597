/**
 * Host → mediasoup → viewer with real WebRTC on both ends: libwebrtc peers in Node (@roamhq/wrtc)
 * driven by mediasoup-client, real ICE, DTLS and SRTP against a real worker. Then: everything a
 * peer created is gone from the router once it leaves.
 */
import { describe, expect, it } from 'vitest';
import { devUser, liveRoom, nextEvent, ok } from './helpers/clients.js';
import { expectMediaFlowing, inboundStats, waitUntil } from './helpers/media-peer.js';
import { useMediaStack } from './helpers/media-stack.js';

const harness = useMediaStack({ MEDIA_WORKERS: '1' });
const mediaDomain = harness.mediaDomain;
const peerIn = harness.peerIn;

describe('media over WebRTC', () => {
  it('a host publishing from a WebRTC peer reaches a viewer: packets, bytes and a key frame', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Wen');
    const hostPeer = await peerIn(roomId, host);
    const viewer = await peerIn(roomId, await devUser(harness.stack.url, 'Vera'));

    const announced = nextEvent(viewer.socket, 'media:producer-added');
    const producer = await hostPeer.publishCamera();
    expect(await announced).toMatchObject({ id: producer.id, kind: 'video', source: 'webrtc', appData: { source: 'camera' } });

    const { consumer, params } = await viewer.consume(producer.id);
    expect(params).toMatchObject({ producerId: producer.id, kind: 'video', paused: true });
    const stats = await expectMediaFlowing(consumer);
    expect(stats.keyFramesDecoded).toBeGreaterThan(0);
    expect(stats.bytesReceived).toBeGreaterThan(1000);

    // The dashboard sees bitrate coming in and going out.
    const dashboard = await waitUntil('bitrates show up in media:stats', async () => {
      const s = await ok(hostPeer.socket, 'media:stats', {});
      return s.room.bitrateIn > 0 && s.room.bitrateOut > 0 ? s : null;
    });
    expect(dashboard.room.consumers).toBe(1);
  });

  it('a simulcast camera reaches a viewer, who chooses the layer they receive', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Sim');
    const hostPeer = await peerIn(roomId, host);
    const viewer = await peerIn(roomId, await devUser(harness.stack.url, 'Lay'));
    const producer = await hostPeer.publishCamera({ simulcast: true });
    const { consumer, params } = await viewer.consume(producer.id);
    expect(params.type).toBe('simulcast');
    await expectMediaFlowing(consumer);

    // The receiver's decoded frame size tells which layer the SFU forwards.
    await waitUntil('the full 640 px layer arrives', async () => (await inboundStats(consumer)).frameWidth === 640);
    await ok(viewer.socket, 'media:set-layers', { consumerId: consumer.id, spatialLayer: 0 });
    await waitUntil('the 320 px layer arrives after choosing layer 0', async () => (await inboundStats(consumer)).frameWidth === 320);
    await ok(viewer.socket, 'media:set-layers', { consumerId: consumer.id, spatialLayer: 1, temporalLayer: 0 });
    await waitUntil('back to 640 px', async () => (await inboundStats(consumer)).frameWidth === 640);
  });

  it('disconnects leave no transports, producers or consumers in the router', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Dora');
    const hostPeer = await peerIn(roomId, host);
    const a = await peerIn(roomId, await devUser(harness.stack.url, 'Ann'));
    const b = await peerIn(roomId, await devUser(harness.stack.url, 'Ben'));
    const producer = await hostPeer.publishCamera();
    const fromA = await a.consume(producer.id);
    const fromB = await b.consume(producer.id);
    await expectMediaFlowing(fromB.consumer);

    const media = mediaDomain().existingRoomMedia(roomId)!;
    const { router, slot } = media.routerEntries()[0]!;
    const consumersOf = async () => (await router.dump()).mapConsumerIdProducerId.map((e) => e.key);
    expect(await consumersOf()).toEqual(expect.arrayContaining([fromA.consumer.id, fromB.consumer.id]));

    // Viewer A drops: its transport and consumer go; B's stay.
    const aTransport = a.recvTransport!.id;
    a.socket.disconnect();
    await waitUntil('A is gone from the router', async () => !(await router.dump()).transportIds.includes(aTransport));
    expect(await consumersOf()).toEqual([fromB.consumer.id]);

    // The host drops: its producer goes, B is told, B's consumer goes with it.
    const hostTransport = hostPeer.sendTransport!.id;
    const removed = nextEvent(b.socket, 'media:producer-removed');
    const consumerClosed = nextEvent(b.socket, 'media:consumer-closed');
    hostPeer.socket.disconnect();
    expect(await removed).toEqual({ producerId: producer.id, kind: 'video' });
    expect(await consumerClosed).toEqual({ consumerId: fromB.consumer.id, producerId: producer.id });
    const dump = await router.dump();
    expect(dump.transportIds).not.toContain(hostTransport);
    expect(dump.mapProducerIdConsumerIds).toEqual([]);
    expect(dump.mapConsumerIdProducerId).toEqual([]);

    // The last one leaves: the room's router itself is closed in the worker.
    b.socket.disconnect();
    await waitUntil('the room router is closed', async () => !(await slot.worker.dump()).routerIds.includes(router.id));
    expect(mediaDomain().existingRoomMedia(roomId)).toBeUndefined();
  });
});
