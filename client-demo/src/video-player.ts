/**
 * The host's video on the viewer page: consumes every producer of the room (camera, microphone,
 * or an RTP ingest) into one <video>, follows producers coming and going, and rebuilds after a
 * media:reset or a fresh join. Starts muted, which lets browsers autoplay; "Unmute" is a click.
 */
import type { types as msc } from 'mediasoup-client';
import type { JoinSnapshot, MediaProducerInfo } from '../../src/protocol/index.js';
import type { LiveClient } from './live-client.js';
import { MediaSession } from './media-session.js';

export class VideoPlayer {
  private readonly media: MediaSession;
  private readonly producers = new Map<string, MediaProducerInfo>();
  private readonly consumers = new Map<string, msc.Consumer>();
  private readonly pending = new Set<string>();
  /** Bumped on every rebuild; consumers that finish for an older generation are thrown away. */
  private generation = 0;
  private note: string | null = null;

  constructor(
    private readonly client: LiveClient,
    private readonly video: HTMLVideoElement,
    private readonly overlay: HTMLElement,
  ) {
    this.media = new MediaSession(client);
    const s = client.socket;
    s.on('media:producer-added', (p) => {
      this.producers.set(p.id, p);
      void this.consume(p.id);
    });
    s.on('media:producer-removed', ({ producerId }) => {
      this.producers.delete(producerId);
      this.drop(producerId);
    });
    s.on('media:producer-updated', ({ producerId, paused }) => {
      const p = this.producers.get(producerId);
      if (p) this.producers.set(producerId, { ...p, paused });
      this.render();
    });
    s.on('media:consumer-closed', ({ producerId }) => {
      this.drop(producerId);
      // The producer may live on (its router moved): try again; a vanished one answers NOT_FOUND.
      if (this.producers.has(producerId)) void this.consume(producerId);
    });
    s.on('media:reset', ({ transportIds }) => void this.onReset(transportIds));
    s.on('room:status', ({ room }) => {
      if (room.status === 'live') this.consumeAll();
    });
  }

  /** A (re)join: the snapshot lists the producers; whatever we had belongs to an old connection. */
  load(snap: JoinSnapshot): void {
    const part = snap.media as { producers: MediaProducerInfo[] } | undefined;
    this.rebuild();
    this.producers.clear();
    if (!part) {
      this.note = 'Video is not enabled on this server.';
      this.render();
      return;
    }
    this.note = null;
    for (const p of part.producers) this.producers.set(p.id, p);
    void this.media.reset('all').then(() => this.consumeAll());
  }

  private async onReset(transportIds: string[] | 'all'): Promise<void> {
    const dropped = await this.media.reset(transportIds);
    if (!dropped.has('recv')) return;
    this.rebuild();
    this.consumeAll();
  }

  private rebuild(): void {
    this.generation++;
    for (const c of this.consumers.values()) c.close();
    this.consumers.clear();
    this.pending.clear();
    this.render();
  }

  private consumeAll(): void {
    for (const id of this.producers.keys()) void this.consume(id);
  }

  private async consume(producerId: string): Promise<void> {
    if (this.consumers.has(producerId) || this.pending.has(producerId)) return;
    const generation = this.generation;
    this.pending.add(producerId);
    try {
      const consumer = await this.media.consume(producerId);
      if (generation !== this.generation || !this.producers.has(producerId)) {
        consumer.close();
        return;
      }
      this.consumers.set(producerId, consumer);
      consumer.on('trackended', () => this.drop(producerId));
      this.render();
    } catch (err) {
      // ROOM_NOT_LIVE: retried on room:status; NOT_FOUND: the producer left meanwhile.
      const code = (err as { code?: string }).code;
      if (code !== 'ROOM_NOT_LIVE' && code !== 'NOT_FOUND' && code !== 'UNAVAILABLE') {
        this.note = `Video unavailable: ${(err as Error).message}`;
        this.render();
      }
    } finally {
      if (generation === this.generation) this.pending.delete(producerId);
    }
  }

  private drop(producerId: string): void {
    this.consumers.get(producerId)?.close();
    if (this.consumers.delete(producerId)) this.render();
  }

  private render(): void {
    const tracks = [...this.consumers.values()].map((c) => c.track);
    const current = this.video.srcObject as MediaStream | null;
    const same = current && current.getTracks().length === tracks.length && tracks.every((t) => current.getTracks().includes(t));
    if (!same) {
      this.video.srcObject = tracks.length ? new MediaStream(tracks) : null;
      if (tracks.length) void this.video.play().catch(() => {});
    }
    const video = [...this.producers.values()].find((p) => p.kind === 'video');
    const playing = video && this.consumers.has(video.id) && !video.paused;
    this.video.dataset.state = playing ? 'playing' : 'waiting';
    this.overlay.hidden = Boolean(playing);
    this.overlay.textContent = this.note ?? (video?.paused ? 'The host paused the video.' : "Waiting for the host's video…");
  }
}
