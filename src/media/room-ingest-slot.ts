/**
 * A room's one ingest on this node, RTP (ingest.ts) or WHIP (whip-ingest.ts), as RoomMedia keeps
 * it: starts, replacements and stops run one at a time, and the slot frees itself when the
 * ingest's transport closes on its own (the client went away, the worker died).
 */
import type { types as ms } from 'mediasoup';
import { AppError } from '../core/errors.js';
import { Serial } from './room-routers.js';

/** An ingest of either kind, RTP (ingest.ts) or WHIP (whip-ingest.ts): a room has at most one. */
export interface RoomIngest {
  readonly transports: readonly ms.Transport[];
  close(): void;
}

export class RoomIngestSlot {
  private ingest: RoomIngest | null = null;
  /** Who started the current ingest (meaningful only while `ingest` is set). */
  private user = '';
  private readonly serial = new Serial();

  /** Run `fn` after every start, replacement or stop under way. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial.run(fn);
  }

  get taken(): boolean {
    return this.ingest !== null;
  }

  /** The user whose ingest runs here, if one does. */
  get userId(): string | null {
    return this.ingest ? this.user : null;
  }

  get transports(): readonly ms.Transport[] {
    return this.ingest?.transports ?? [];
  }

  /** Close the current ingest, if any (replaced, or the room's media closes). */
  close(): boolean {
    if (!this.ingest) return false;
    this.ingest.close();
    this.ingest = null;
    return true;
  }

  /** The ingest went with the origin router (its worker died): nothing left to close. */
  lost(): void {
    this.ingest = null;
  }

  /** Make `ingest` the room's; it stops being so when its transport closes on its own. Refused
   * (and closed) when the room closed meanwhile. */
  adopt(ingest: RoomIngest, userId: string, roomClosed: boolean): void {
    if (roomClosed) {
      ingest.close();
      throw new AppError('ROOM_ENDED', 'the room closed meanwhile');
    }
    // Its transport closed while it started (the client hung up at once): adopting it would hold
    // the room's ingest slot with nothing to free it.
    if (ingest.transports[0]?.closed) throw new AppError('MEDIA_ERROR', 'the ingest closed while it started');
    this.ingest = ingest;
    this.user = userId;
    ingest.transports[0]?.observer.once('close', () => {
      if (this.ingest === ingest) this.ingest = null;
    });
  }
}
