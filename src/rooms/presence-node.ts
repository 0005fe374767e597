/**
 * This node's side of presence, independent of sockets: which connections it holds in which room
 * (the truth), its share in Redis under a node incarnation id, its heartbeat, and reaping nodes
 * that died.
 *
 * Timing, for a heartbeat period P (PRESENCE_HEARTBEAT_MS): a node beats every P/5; one whose
 * last beat is older than 3P/5 is dead, and survivors look every P/5, so a dead node's share is
 * gone in under P. A live node is only taken for dead if its event loop stalls for over 2P/5.
 *
 * Whenever this node's share in Redis may differ from its local truth — it was reaped (taken for
 * dead), Redis lost its data (flush, restart without persistence) or a write failed (timeout,
 * outage) — it takes a new incarnation id, writes its whole local state under it, and reaps the
 * old one. Unique counts never dip meanwhile: the same users sit in both shares.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { PresenceCounts } from '../protocol/index.js';
import type { Logger } from '../core/logger.js';
import { presenceField, type PresenceField, type PresenceStore } from './presence-store.js';

interface Connection {
  roomId: string;
  field: PresenceField;
}

/** Fields per write when re-asserting a big room, so one script never holds Redis long. */
const ASSERT_CHUNK = 1000;

export class PresenceNode {
  /** Current incarnation: every write goes under it. */
  private id = PresenceNode.newId();
  private readonly conns = new Map<string, Connection>();
  /** Per room: field → local connections. The truth this node's share must equal. */
  private readonly rooms = new Map<string, Map<PresenceField, number>>();
  /** The current id is in the node registry (so survivors would reap it). */
  private idRegistered: Promise<unknown>;
  /** Rooms recorded in Redis under the current id (write only after this resolved). */
  private registered = new Map<string, Promise<unknown>>();
  private readonly idleTicks = new Map<string, number>();
  private readonly idleTicksToUnregister: number;
  /** Our share may differ from the truth: re-assert on the next tick. */
  private dirty = false;
  /** When our heartbeat last got through (local clock), to tell our own outage from others' deaths. */
  private lastBeatAt = 0;
  private ticking = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: PresenceStore,
    readonly heartbeatMs: number,
    private readonly log: Logger,
    /** Counts of these rooms changed by something other than a local join or leave. */
    private readonly onRoomsChanged: (roomIds: string[]) => void,
  ) {
    const tickMs = Math.max(10, Math.round(heartbeatMs / 5));
    // Long enough that no write of ours to a room we left can still be in flight (command timeout).
    this.idleTicksToUnregister = Math.max(5, Math.ceil(30_000 / tickMs));
    this.idRegistered = this.store.register(this.id);
    this.idRegistered.catch(() => (this.dirty = true));
    this.timer = setInterval(() => void this.tick(), tickMs);
    this.timer.unref();
  }

  static newId(): string {
    return `${hostname()}:${process.pid}:${randomBytes(6).toString('base64url')}`;
  }

  get nodeId(): string {
    return this.id;
  }

  get deadAfterMs(): number {
    return Math.round((this.heartbeatMs * 3) / 5);
  }

  /** A connection enters a room (a connection is in at most one room). */
  enter(connId: string, roomId: string, userKey: string, staff: boolean): Promise<PresenceCounts | null> {
    const old = this.conns.get(connId);
    const field = presenceField(staff, userKey);
    if (old?.roomId === roomId && old.field === field) return Promise.resolve(null);
    const deltas: [string, PresenceField, number][] = [];
    if (old) deltas.push([old.roomId, old.field, -1]);
    deltas.push([roomId, field, +1]);
    this.conns.set(connId, { roomId, field });
    return this.change(deltas);
  }

  exit(connId: string): Promise<PresenceCounts | null> {
    const old = this.conns.get(connId);
    if (!old) return Promise.resolve(null);
    this.conns.delete(connId);
    return this.change([[old.roomId, old.field, -1]]);
  }

  /** Role changed mid-live: count the connection as staff or as a viewer from now on. */
  setStaff(connId: string, userKey: string, staff: boolean): Promise<PresenceCounts | null> {
    const old = this.conns.get(connId);
    if (!old) return Promise.resolve(null);
    return this.enter(connId, old.roomId, userKey, staff);
  }

  /** Stop, and take this node's share out of the counts (clean shutdown). Returns the rooms touched. */
  async close(): Promise<string[]> {
    if (this.closed) return [];
    this.closed = true;
    clearInterval(this.timer);
    const rooms = [...new Set([...this.registered.keys(), ...this.rooms.keys()])];
    await this.reap(this.id, rooms).catch((err: unknown) => this.log.warn({ err }, 'presence: removing our share failed'));
    return rooms;
  }

  /** Apply local deltas at once (the truth), then write them under the current incarnation. */
  private async change(deltas: [string, PresenceField, number][]): Promise<PresenceCounts | null> {
    for (const [roomId, field, d] of deltas) bump(this.rooms, roomId, field, d);
    if (this.closed) return null;
    const id = this.id;
    const byRoom = new Map<string, [PresenceField, number][]>();
    for (const [roomId, field, d] of deltas) byRoom.set(roomId, [...(byRoom.get(roomId) ?? []), [field, d]]);
    let last: PresenceCounts | null = null;
    for (const [roomId, roomDeltas] of byRoom) {
      try {
        await this.registerRoom(id, roomId);
        // Re-asserted meanwhile under a new id: its snapshot already holds this change. Closed:
        // our share is being removed, and a late write would outlive it.
        if (id !== this.id || this.closed) return null;
        last = await this.store.apply(roomId, id, roomDeltas);
      } catch (err) {
        // Unknown whether it landed: the next tick re-asserts the whole truth.
        this.dirty = true;
        throw err;
      }
    }
    return last;
  }

  private registerRoom(id: string, roomId: string): Promise<unknown> {
    let p = this.registered.get(roomId);
    if (!p) {
      // The room enters our room set before our share in it can exist, so a survivor reaping us
      // will find it even if we die between the two writes.
      p = this.idRegistered.then(() => this.store.addRooms(id, [roomId]));
      this.registered.set(roomId, p);
      p.catch(() => {
        if (this.registered.get(roomId) === p) this.registered.delete(roomId);
      });
    }
    return p;
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      const previousBeat = this.lastBeatAt;
      if (this.dirty || !(await this.store.beat(this.id))) await this.reassert();
      this.lastBeatAt = Date.now();
      // Just back from our own outage or stall: the others' heartbeats look as stale as ours did.
      // Give them one tick to beat before taking them for dead.
      if (this.lastBeatAt - previousBeat <= this.deadAfterMs) await this.reapDead();
      await this.unregisterIdleRooms();
    } catch (err) {
      this.log.warn({ err }, 'presence heartbeat failed');
    } finally {
      this.ticking = false;
    }
  }

  /** Move our whole local truth to a new incarnation, then reap the old one. */
  private async reassert(): Promise<void> {
    const oldId = this.id;
    const oldRooms = [...this.registered.keys()];
    const newId = PresenceNode.newId();
    await this.store.register(newId);
    const roomIds = [...this.rooms.keys()];
    await this.store.addRooms(newId, roomIds);
    // The switch and the snapshot happen in one synchronous step: every later change goes under
    // the new id on top of the snapshot; every earlier one is in the old share, reaped below.
    this.id = newId;
    this.idRegistered = Promise.resolve();
    this.registered = new Map(roomIds.map((r) => [r, Promise.resolve()]));
    this.dirty = false;
    const writes: Promise<unknown>[] = [];
    for (const [roomId, fields] of this.rooms) {
      const entries = [...fields];
      for (let i = 0; i < entries.length; i += ASSERT_CHUNK) {
        const chunk = entries.slice(i, i + ASSERT_CHUNK);
        writes.push(this.registerRoom(newId, roomId).then(() => this.store.apply(roomId, newId, chunk)));
      }
    }
    const results = await Promise.allSettled(writes);
    if (results.some((r) => r.status === 'rejected')) this.dirty = true;
    await this.reap(oldId, oldRooms);
    this.log.info({ node: newId, previous: oldId, rooms: roomIds.length }, 'presence re-asserted');
    this.onRoomsChanged([...new Set([...roomIds, ...oldRooms])]);
  }

  /** Survivors: reap every node whose heartbeat stopped, each by one survivor (lock). */
  private async reapDead(): Promise<void> {
    for (const node of await this.store.stale(this.deadAfterMs)) {
      if (node === this.id || !(await this.store.lockReap(node, this.heartbeatMs))) continue;
      const rooms = await this.reap(node, []);
      this.log.info({ node, rooms: rooms.length }, 'presence: reaped a node whose heartbeat stopped');
      this.onRoomsChanged(rooms);
    }
  }

  /** Subtract a node incarnation's share from every room it had, then forget it. */
  private async reap(node: string, knownRooms: string[]): Promise<string[]> {
    const rooms = [...new Set([...knownRooms, ...(await this.store.roomsOf(node))])];
    for (const roomId of rooms) await this.store.reapRoom(roomId, node);
    await this.store.forget(node);
    return rooms;
  }

  /**
   * Rooms this node left long ago leave its room set, so the set does not grow for the life of
   * the process. "Long ago" (several ticks, more than a command timeout) so no write of ours to
   * that room can still be in flight; dropped from `registered` first, so a new join re-adds it.
   */
  private async unregisterIdleRooms(): Promise<void> {
    const idle: string[] = [];
    for (const roomId of this.registered.keys()) {
      if (this.rooms.has(roomId)) {
        this.idleTicks.delete(roomId);
        continue;
      }
      const n = (this.idleTicks.get(roomId) ?? 0) + 1;
      this.idleTicks.set(roomId, n);
      if (n >= this.idleTicksToUnregister) idle.push(roomId);
    }
    if (idle.length === 0) return;
    for (const roomId of idle) {
      this.registered.delete(roomId);
      this.idleTicks.delete(roomId);
    }
    await this.store.removeRooms(this.id, idle);
  }
}

function bump(rooms: Map<string, Map<PresenceField, number>>, roomId: string, field: PresenceField, d: number): void {
  let fields = rooms.get(roomId);
  if (!fields) rooms.set(roomId, (fields = new Map()));
  const n = (fields.get(field) ?? 0) + d;
  if (n === 0) fields.delete(field);
  else fields.set(field, n);
  if (fields.size === 0) rooms.delete(roomId);
}
