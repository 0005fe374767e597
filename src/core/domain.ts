/**
 * The contract between the composition root (server.ts) and each domain. Domains never import
 * each other: what one needs of another (the room record, evicting a user) arrives here as an
 * interface, and what each contributes to a join (guards, snapshot parts) is collected here.
 */
import type { RedisClient } from './redis-client.js';
import type { Router } from 'express';
import type { Registry } from 'prom-client';
import type { Role, Room, UserRef } from '../protocol/index.js';
import type { Config } from '../config.js';
import type { Logger } from './logger.js';
import type { EventRouter, LiveServer, LiveSocket } from './socket-kit.js';

/** Read access to room records, implemented by the rooms domain. */
export interface RoomDirectory {
  get(roomId: string): Promise<Room | null>;
  /** The room, or NOT_FOUND. */
  require(roomId: string): Promise<Room>;
}

/** Who is in a room and who may be, implemented by the rooms domain. */
export interface RoomMembership {
  /** Remove users from a room on every node. userId null: everyone (room ended). */
  evict(roomId: string, userId: string | null, reason: 'banned' | 'ended'): Promise<void>;
  /** The room, if `user` may read it (HTTP reads): NOT_FOUND, UNAUTHORIZED (a guest at a
   * private room) or BANNED (any domain's joinGuard) otherwise. */
  requireReadable(roomId: string, user: UserRef | null): Promise<Room>;
}

export interface DomainDeps {
  io: LiveServer;
  redis: RedisClient;
  log: Logger;
  config: Config;
  rooms: RoomDirectory;
  membership: RoomMembership;
  /** This server's Prometheus registry, served at GET /metrics. */
  metrics: Registry;
}

export interface Domain {
  readonly name: string;
  registerEvents?(router: EventRouter): void;
  registerHttp?(router: Router): void;
  /** Asynchronous start-up (worker processes, ...), awaited before the server listens. */
  start?(): Promise<void>;
  /** Throw an AppError to refuse this user the room (bans): joins, recoveries and HTTP reads. */
  joinGuard?(room: Room, user: UserRef | null): Promise<void>;
  /** This domain's part of the join snapshot, merged into the ack. */
  snapshotPart?(room: Room, user: UserRef | null, role: Role): Promise<Record<string, unknown>>;
  /** What of this domain's snapshot part depends on the role, merged into `room:role`. */
  rolePart?(room: Room, user: UserRef | null, role: Role): Promise<Record<string, unknown>>;
  onJoined?(socket: LiveSocket, room: Room): Promise<void>;
  onLeft?(socket: LiveSocket, roomId: string): Promise<void>;
  /** The host ended the live (called once, on the node that ended it): wind down what's running. */
  onRoomEnded?(room: Room): Promise<void>;
  close?(): Promise<void>;
}
