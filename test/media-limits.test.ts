/**
 * Media caps: a user runs at most MEDIA_INGESTS_PER_USER RTP ingests at once on a node (each
 * holds UDP ports of the RTC range, which 25 ingests of one user once exhausted for everyone);
 * replacing a room's ingest is always allowed; and when the node really has no port left the host
 * gets MEDIA_ERROR with a generic message, never mediasoup's internals. Real mediasoup worker.
 */
import { describe, expect, it } from 'vitest';
import { devUser, http } from './helpers/clients.js';
import { useMediaStack } from './helpers/media-stack.js';

// Eight UDP ports: the WebRtcServer takes one, a video-only ingest two (RTP + RTCP), one with
// audio four. An unusual range so parallel test files (20000-32000) never take these ports.
const harness = useMediaStack({ MEDIA_WORKERS: '1', MEDIA_INGESTS_PER_USER: '2', MEDIA_RTC_MIN_PORT: '47310', MEDIA_RTC_MAX_PORT: '47317' });

async function roomOf(token: string, title: string): Promise<string> {
  const res = await http(harness.stack.url, 'POST', '/api/rooms', token, { title });
  expect(res.status).toBe(201);
  return res.body.room.id as string;
}

const ingest = (roomId: string, token: string, audio: boolean) =>
  http(harness.stack.url, 'POST', `/api/rooms/${roomId}/ingest`, token, { video: 'VP8', audio });

describe('ingest caps', () => {
  it('refuses a third concurrent ingest of one user, allows replacing one, and hides internal media errors', async () => {
    const alice = await devUser(harness.stack.url, 'Alice');
    const [r1, r2, r3] = [await roomOf(alice.token, 'one'), await roomOf(alice.token, 'two'), await roomOf(alice.token, 'three')];
    // The third is refused however the requests interleave: they race for the cap here.
    const started = await Promise.all([ingest(r1, alice.token, false), ingest(r2, alice.token, false), ingest(r3, alice.token, false)]);
    expect(started.map((r) => r.status).sort()).toEqual([201, 201, 409]);
    const refused = started.find((r) => r.status === 409)!;
    expect(refused.body).toEqual({ error: { code: 'LIMIT_EXCEEDED', message: expect.stringContaining('at most 2 ingests (RTP or WHIP)') } });
    const [running1, running2] = [r1, r2, r3].filter((_, i) => started[i]!.status === 201) as [string, string];
    const idle = [r1, r2, r3].find((_, i) => started[i]!.status === 409)!;

    // Replacing the ingest of a room that already has one is not one more.
    expect((await ingest(running1, alice.token, false)).status).toBe(201);
    // Stopping one makes room for another.
    expect((await http(harness.stack.url, 'DELETE', `/api/rooms/${running2}/ingest`, alice.token)).status).toBe(204);
    expect((await ingest(idle, alice.token, false)).status).toBe(201);

    // Ports now: 1 (WebRtcServer) + 2 + 2 of 8. Bob's ingest with audio needs 4: mediasoup runs out.
    const bob = await devUser(harness.stack.url, 'Bob');
    const noPorts = await ingest(await roomOf(bob.token, 'bob'), bob.token, true);
    expect(noPorts).toEqual({
      status: 400,
      body: { error: { code: 'MEDIA_ERROR', message: 'the media server could not do this right now; try again later' } },
    });
    expect(JSON.stringify(noPorts.body)).not.toMatch(/port|47\d\d\d|127\.0\.0\.1/i);
  });
});
