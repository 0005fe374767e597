/**
 * Using every core for one room, and surviving a worker crash: with two workers and a threshold
 * of one consumer per router, the second viewer lands on a router of the other worker fed through
 * pipeToRouter; a SIGKILLed worker is replaced and the room's peers re-negotiate onto it.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { WorkerSlot } from '../src/media/worker-pool.js';
import { devUser, liveRoom, nextEvent, ok } from './helpers/clients.js';
import { expectMediaFlowing } from './helpers/media-peer.js';
import { useMediaStack } from './helpers/media-stack.js';

const harness = useMediaStack({ MEDIA_WORKERS: '2', MEDIA_CONSUMERS_PER_ROUTER: '1' });
const mediaDomain = harness.mediaDomain;
const peerIn = harness.peerIn;

describe('media across workers', () => {
  it('a room past the consumer threshold is piped to a second worker, whose viewers receive media', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Pia');
    const hostPeer = await peerIn(roomId, host);
    const producer = await hostPeer.publishCamera();

    const first = await peerIn(roomId, await devUser(harness.stack.url, 'First'));
    const second = await peerIn(roomId, await devUser(harness.stack.url, 'Second'));
    const a = await first.consume(producer.id);
    const b = await second.consume(producer.id);

    const routers = mediaDomain().existingRoomMedia(roomId)!.routerEntries();
    expect(routers.map((e) => e.role)).toEqual(['origin', 'edge']);
    expect(routers[0]!.slot.worker.pid).not.toBe(routers[1]!.slot.worker.pid);
    // The second viewer's transport is on the edge router, fed by a pipe from the origin.
    expect((await routers[1]!.router.dump()).transportIds).toContain(second.recvTransport!.id);

    const edgeStats = await expectMediaFlowing(b.consumer);
    expect(edgeStats.keyFramesDecoded).toBeGreaterThan(0);
    await expectMediaFlowing(a.consumer);

    const stats = await ok(hostPeer.socket, 'media:stats', {});
    expect(stats.room.routers.map((r) => r.consumers)).toEqual([1, 1]);
    expect(new Set(stats.room.routers.map((r) => r.workerIndex)).size).toBe(2);
  });

  it('a killed worker is replaced and the room recovers once its peers re-negotiate', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Kai');
    const hostPeer = await peerIn(roomId, host);
    const viewer = await peerIn(roomId, await devUser(harness.stack.url, 'Viv'));
    const producer = await hostPeer.publishCamera();
    await expectMediaFlowing((await viewer.consume(producer.id)).consumer);

    const pool = mediaDomain().pool;
    const origin = mediaDomain().existingRoomMedia(roomId)!.routerEntries()[0]!;
    const deadPid = origin.slot.worker.pid;
    const replaced = once(pool, 'replaced') as Promise<[WorkerSlot, number]>;
    const hostReset = nextEvent(hostPeer.socket, 'media:reset');
    const viewerReset = nextEvent(viewer.socket, 'media:reset');
    const producerGone = nextEvent(viewer.socket, 'media:producer-removed');
    process.kill(deadPid, 'SIGKILL');

    const [slot, oldPid] = await replaced;
    expect(oldPid).toBe(deadPid);
    expect(slot.worker.pid).not.toBe(deadPid);
    expect(slot.worker.closed).toBe(false);
    expect(await hostReset).toEqual({ reason: 'worker-died', transportIds: [hostPeer.sendTransport!.id] });
    expect(await viewerReset).toEqual({ reason: 'worker-died', transportIds: [viewer.recvTransport!.id] });
    expect((await producerGone).producerId).toBe(producer.id);

    // The peers re-negotiate: the host publishes again, the viewer consumes the new producer.
    hostPeer.forget((await hostReset).transportIds);
    viewer.forget((await viewerReset).transportIds);
    const announced = nextEvent(viewer.socket, 'media:producer-added');
    await hostPeer.createTransport('send');
    const again = await hostPeer.publishCamera();
    expect((await announced).id).toBe(again.id);
    const stats = await expectMediaFlowing((await viewer.consume(again.id)).consumer);
    expect(stats.keyFramesDecoded).toBeGreaterThan(0);
    expect(pool.all.every((s) => !s.worker.closed)).toBe(true);
  });
});
