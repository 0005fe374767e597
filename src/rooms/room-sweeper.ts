/**
 * Ends scheduled rooms that never went live: once a room's scheduled start (or, unscheduled, its
 * creation) is ROOM_SCHEDULED_STALE_MS past, it is ended like a host would end it, which takes it
 * out of the scheduled listing and frees its slot in the host's ROOMS_PER_USER cap.
 *
 * Bounded work whatever the number of rooms: one node per period (a Redis lock) ends at most
 * ROOM_SWEEP_BATCH rooms, oldest first; a backlog drains over the following periods.
 */
import type { Room } from '../protocol/index.js';
import type { RedisClient } from '../core/redis-client.js';
import type { Logger } from '../core/logger.js';
import { transition } from './room-model.js';
import type { RoomStore } from './room-store.js';

export const ROOM_SWEEP_BATCH = 100;
const LOCK_KEY = 'rooms:sweep-lock';

export interface RoomSweeperOptions {
  staleAfterMs: number;
  periodMs: number;
}

export class RoomSweeper {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<number> | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly store: RoomStore,
    private readonly opts: RoomSweeperOptions,
    private readonly log: Logger,
    /** Ends a room for everyone (the same path as the host's POST /end). */
    private readonly endLive: (room: Room) => Promise<void>,
  ) {
    this.timer = setInterval(() => void this.tick(), opts.periodMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    // Held for most of a period, so one node sweeps per period however many run.
    const won = await this.redis.set(LOCK_KEY, '1', 'PX', Math.max(50, Math.floor(this.opts.periodMs * 0.9)), 'NX').catch(() => null);
    if (won !== 'OK') return;
    await this.sweepOnce().catch((err: unknown) => this.log.warn({ err }, 'scheduled room sweep failed'));
  }

  /** End up to ROOM_SWEEP_BATCH stale scheduled rooms; returns how many were ended. */
  sweepOnce(now = Date.now()): Promise<number> {
    this.running ??= this.sweep(now).finally(() => (this.running = null));
    return this.running;
  }

  private async sweep(now: number): Promise<number> {
    const ids = await this.store.staleScheduled(now - this.opts.staleAfterMs, ROOM_SWEEP_BATCH);
    let ended = 0;
    for (const id of ids) {
      const room = await this.store.get(id);
      if (!room || room.status !== 'scheduled') {
        await this.store.unschedule(id);
        continue;
      }
      const next = transition(room, 'ended', now);
      await this.store.saveStatus(next, room.status);
      await this.endLive(next);
      ended++;
    }
    if (ended) this.log.info({ ended }, 'ended stale scheduled rooms');
    return ended;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
