/**
 * The batching throttle's timing (src/core/room-batcher.ts) and the load-driven window
 * (src/core/load-window.ts), on fake timers: which frames go out when, with what in them. The
 * behaviour through real servers and clients is test/room-batching.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoadWindow } from '../src/core/load-window.js';
import { RoomBatcher, type BatchEntry, type FlushReason } from '../src/core/room-batcher.js';

const WINDOW_MS = 40;

function recorder(maxEvents = 100) {
  const frames: { channel: string; events: string[]; reason: FlushReason }[] = [];
  const batcher = new RoomBatcher({
    maxEvents,
    windowMs: () => WINDOW_MS,
    send: (channel, entries: BatchEntry[], reason) => {
      frames.push({ channel, events: entries.map(([e, p]) => `${e}:${String(p)}`), reason });
    },
  });
  return { frames, batcher };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RoomBatcher', () => {
  it("sends a quiet channel's first event at the end of the turn, with everything emitted in that turn", () => {
    const { frames, batcher } = recorder();
    void batcher.add('room:a', 'chat:message', 1);
    void batcher.add('room:a', 'hearts:update', 2);
    expect(frames).toEqual([]); // not synchronously: the rest of the turn may add to it
    vi.advanceTimersByTime(0);
    expect(frames).toEqual([{ channel: 'room:a', events: ['chat:message:1', 'hearts:update:2'], reason: 'window' }]);
  });

  it('holds what arrives within the window for its end, in order, then forgets a channel that went quiet', () => {
    const { frames, batcher } = recorder();
    void batcher.add('room:a', 'chat:message', 1);
    vi.advanceTimersByTime(0);
    void batcher.add('room:a', 'chat:message', 2);
    void batcher.add('room:a', 'chat:deleted', 3);
    vi.advanceTimersByTime(WINDOW_MS - 1);
    expect(frames).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(frames[1]).toEqual({ channel: 'room:a', events: ['chat:message:2', 'chat:deleted:3'], reason: 'window' });
    expect(batcher.size).toBe(1); // cooling down after that frame
    vi.advanceTimersByTime(WINDOW_MS);
    expect(batcher.size).toBe(0);
    void batcher.add('room:a', 'chat:message', 4);
    vi.advanceTimersByTime(0); // quiet again: at once
    expect(frames[2]?.events).toEqual(['chat:message:4']);
  });

  it('keeps channels apart', () => {
    const { frames, batcher } = recorder();
    void batcher.add('room:a', 'chat:message', 1);
    void batcher.add('room:b', 'chat:message', 2);
    vi.advanceTimersByTime(0);
    expect(frames.map((f) => [f.channel, f.events])).toEqual([
      ['room:a', ['chat:message:1']],
      ['room:b', ['chat:message:2']],
    ]);
  });

  it('sends a full frame at once, mid-window', () => {
    const { frames, batcher } = recorder(3);
    void batcher.add('room:a', 'chat:message', 0);
    vi.advanceTimersByTime(0);
    for (const n of [1, 2, 3]) void batcher.add('room:a', 'chat:message', n);
    expect(frames[1]).toEqual({ channel: 'room:a', events: ['chat:message:1', 'chat:message:2', 'chat:message:3'], reason: 'full' });
  });

  it('flushes on demand (a non-batchable event follows) and on close, and settles what it sent', async () => {
    const { frames, batcher } = recorder();
    void batcher.add('room:a', 'chat:message', 0);
    vi.advanceTimersByTime(0);
    const sent = batcher.add('room:a', 'chat:message', 1);
    batcher.flushNow('room:a');
    expect(frames[1]).toEqual({ channel: 'room:a', events: ['chat:message:1'], reason: 'ordered' });
    await expect(sent).resolves.toBeUndefined();
    batcher.flushNow('room:a'); // nothing pending: no empty frame
    void batcher.add('room:b', 'sale:stock', 2);
    batcher.flushAll();
    expect(frames.map((f) => f.reason)).toEqual(['window', 'ordered', 'close']);
    expect(batcher.size).toBe(0);
  });
});

describe('LoadWindow', () => {
  it('is narrowest on an idle loop and widens to the bound on a busy one', () => {
    const window = new LoadWindow({ minMs: 10, maxMs: 50, idleBelow: 0.5, busyAbove: 0.9 });
    try {
      expect(window.ms()).toBe(10);
      window.observe(0.95);
      expect(window.ms()).toBe(50);
      window.observe(0.7);
      expect(window.ms()).toBe(30);
      window.observe(0.1);
      expect(window.ms()).toBe(10);
    } finally {
      window.close();
    }
  });
});
