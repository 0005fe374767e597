/**
 * Per-channel coalescing of broadcasts into batch frames (the timing; room-batching.ts decides
 * what is batched and sends the frames).
 *
 * It is a throttle with a leading edge: the first event of a quiet channel is flushed at the end
 * of the current event-loop turn (so everything emitted in the same turn — a burst of Redis
 * replies resolved together — shares its frame), and the channel then cools down for one window;
 * events arriving meanwhile wait for the window's end and go out together, which starts the next
 * window. A channel thus gets at most one frame per window plus one per `maxEvents` events, and no
 * event waits longer than a window (plus the event loop's own lag). A channel with nothing pending
 * at the end of its window is forgotten.
 *
 * The window widens with load (`windowMs` is asked at each flush): when the event loop is idle a
 * frame is cheap and latency is what matters; when it is busy every frame saved is CPU for the
 * rest.
 */

export type BatchEntry = [event: string, payload: unknown];
export type FlushReason = 'window' | 'full' | 'ordered' | 'close';

export interface RoomBatcherOptions {
  /** At most this many events per frame; reaching it flushes at once. */
  maxEvents: number;
  /** The current window (ms) between two frames of one channel. */
  windowMs: () => number;
  /** Sends one frame; its promise settles when the frame is handed to the adapter's delivery. */
  send: (channel: string, entries: BatchEntry[], reason: FlushReason) => Promise<unknown> | void;
}

interface ChannelBatch {
  entries: BatchEntry[];
  /** The leading-edge flush, at the end of the current event-loop turn. */
  immediate: NodeJS.Immediate | null;
  /** The end of the window. */
  timer: NodeJS.Timeout | null;
  /** Settles when these entries have been sent: callers (the drain) may wait on it. */
  sent: Promise<void> | null;
  settle: (() => void) | null;
}

export class RoomBatcher {
  private readonly channels = new Map<string, ChannelBatch>();

  constructor(private readonly opts: RoomBatcherOptions) {}

  /** Queue one event; the promise settles once the frame carrying it has been sent. */
  add(channel: string, event: string, payload: unknown): Promise<void> {
    const batch = this.channels.get(channel) ?? this.open(channel);
    batch.entries.push([event, payload]);
    batch.sent ??= new Promise<void>((ok) => (batch.settle = ok));
    const sent = batch.sent;
    if (batch.entries.length >= this.opts.maxEvents) this.flush(channel, batch, 'full');
    else if (!batch.timer && !batch.immediate) batch.immediate = setImmediate(() => this.flush(channel, batch, 'window'));
    return sent;
  }

  private open(channel: string): ChannelBatch {
    const batch: ChannelBatch = { entries: [], immediate: null, timer: null, sent: null, settle: null };
    this.channels.set(channel, batch);
    return batch;
  }

  /** Whatever is pending for `channel` goes out now (a non-batched emit to it must come after). */
  flushNow(channel: string, reason: FlushReason = 'ordered'): void {
    const batch = this.channels.get(channel);
    if (batch && batch.entries.length > 0) this.flush(channel, batch, reason);
  }

  /** Every pending frame goes out now, and nothing waits any more. */
  flushAll(reason: FlushReason = 'close'): void {
    for (const [channel, batch] of [...this.channels]) {
      if (batch.entries.length > 0) this.flush(channel, batch, reason);
      this.clearTimer(batch);
      this.channels.delete(channel);
    }
  }

  /** Channels with a frame pending or cooling down (for tests and metrics). */
  get size(): number {
    return this.channels.size;
  }

  private flush(channel: string, batch: ChannelBatch, reason: FlushReason): void {
    this.clearTimer(batch);
    const { entries, settle } = batch;
    batch.entries = [];
    batch.sent = null;
    batch.settle = null;
    if (entries.length > 0) {
      const sending = this.opts.send(channel, entries, reason);
      if (sending) sending.then(settle, settle);
      else settle?.();
    }
    // Cool down: what arrives within the window waits for its end. A window that ends with
    // nothing pending forgets the channel, so its next event is sent at once again.
    batch.timer = setTimeout(() => {
      batch.timer = null;
      if (batch.entries.length > 0) this.flush(channel, batch, 'window');
      else if (this.channels.get(channel) === batch) this.channels.delete(channel);
    }, this.opts.windowMs());
  }

  private clearTimer(batch: ChannelBatch): void {
    if (batch.immediate) clearImmediate(batch.immediate);
    if (batch.timer) clearTimeout(batch.timer);
    batch.immediate = null;
    batch.timer = null;
  }
}
