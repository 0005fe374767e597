/**
 * The host's camera and microphone, sent to the room through mediasoup. Publishing survives the
 * connection: after a media:reset or a fresh join (the server closed our producers) the same
 * tracks are produced again, so viewers get the picture back without the host doing anything.
 */
import type { types as msc } from 'mediasoup-client';
import type { LiveClient } from './live-client.js';
import { MediaSession } from './media-session.js';

export class CameraPublisher {
  private readonly media: MediaSession;
  private stream: MediaStream | null = null;
  private producers: msc.Producer[] = [];
  private publishing: Promise<void> | null = null;

  constructor(
    private readonly client: LiveClient,
    private readonly onStatus: (text: string) => void,
  ) {
    this.media = new MediaSession(client);
    client.socket.on('media:reset', ({ transportIds }) => {
      void this.media.reset(transportIds).then((dropped) => {
        if (dropped.has('send')) void this.republish();
      });
    });
  }

  get active(): boolean {
    return this.stream !== null;
  }

  async start(): Promise<MediaStream> {
    // 640x360 keeps a phone host's upload modest; simulcast is not worth it for one demo room.
    this.stream ??= await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360, frameRate: 24 }, audio: true });
    return this.stream;
  }

  /** Send the tracks; safe to call again (it only publishes what is not published yet). */
  async publish(): Promise<void> {
    if (!this.stream) return;
    this.publishing ??= (async () => {
      try {
        for (const track of this.stream?.getTracks() ?? []) {
          if (this.producers.some((p) => p.track === track && !p.closed)) continue;
          this.producers.push(await this.media.produce(track));
        }
        this.onStatus('On air: camera and microphone are live');
      } catch (err) {
        this.onStatus(`Camera is on, but video could not be sent: ${(err as Error).message}`);
        throw err;
      } finally {
        this.publishing = null;
      }
    })();
    return this.publishing;
  }

  /** A fresh join after a long drop: the server closed our producers along with the old connection. */
  async rejoined(): Promise<void> {
    await this.media.reset('all');
    await this.republish();
  }

  private async republish(): Promise<void> {
    for (const p of this.producers) p.close();
    this.producers = [];
    if (this.stream) await this.publish().catch(() => {});
  }

  async stop(): Promise<void> {
    for (const p of this.producers) {
      await this.client.request('media:close-producer', { producerId: p.id }).catch(() => {});
      p.close();
    }
    this.producers = [];
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    await this.media.reset('all');
  }
}
