/**
 * The stack the media tests share: a real server with real mediasoup workers, torn down after the
 * file, and WebRTC peers (MediaPeer) closed after each test.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Config } from '../../src/config.js';
import type { MediaDomain } from '../../src/media/media-domain.js';
import { closeAllSockets, connect, ok, type TestUser } from './clients.js';
import { MediaPeer } from './media-peer.js';
import { startStack, type Stack } from './stack.js';

export function useMediaStack(config: Partial<Record<keyof Config, string>>) {
  let stack: Stack | undefined;
  const peers: MediaPeer[] = [];
  beforeAll(async () => {
    stack = await startStack({ config: { MEDIA_ENABLED: 'true', ...config } });
  });
  afterEach(() => {
    for (const p of peers.splice(0)) p.close();
  });
  afterAll(async () => {
    closeAllSockets();
    await stack?.stop();
  });
  const current = (): Stack => {
    if (!stack) throw new Error('media stack not started');
    return stack;
  };
  return {
    get stack(): Stack {
      return current();
    },
    mediaDomain: () => current().servers[0]!.domains.find((d) => d.name === 'media') as MediaDomain,
    /** A connection of `user` joined to the room, with a loaded mediasoup-client device. */
    async peerIn(roomId: string, user: TestUser | null): Promise<MediaPeer> {
      const socket = await connect(current().url, user);
      await ok(socket, 'room:join', { roomId });
      const peer = await new MediaPeer(socket).load();
      peers.push(peer);
      return peer;
    },
  };
}
