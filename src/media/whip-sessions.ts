/**
 * WHIP sessions across nodes. A session lives on the node that answered its POST (its transport
 * is in that node's mediasoup), but its resource URL works on any node: each session's node is
 * recorded in Redis (whip-owners.ts), and a PATCH or DELETE that reaches another node is
 * forwarded over the node bus (node-bus.ts) to the holder, which acts and answers; the receiving
 * node answers the client with the holder's status, ETag and body. The caller's token and role
 * are checked by the receiving node before anything is forwarded (whip-http.ts); the holder
 * checks that the resource belongs to the room named in the URL.
 *
 * A holder that does not answer in time is checked for life (node-liveness.ts): dead, its
 * session died with it (404; the room's producer registry is cleaned by every survivor with
 * connections in the room, cascade.ts); alive but slow, UNAVAILABLE (try again).
 */
import { z } from 'zod';
import { WHIP_MAX_SDP_BYTES } from '../protocol/index.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isBusTimeout, type NodeBus } from './node-bus.js';
import type { WhipIngest } from './whip-ingest.js';
import { WHIP_OWNER_REFRESH_MS, type WhipOwners } from './whip-owners.js';

const id = z.string().min(1).max(128);
const iceCredential = z.string().min(1).max(256).optional();

/** What a client asks of a session: PATCH (trickle or ICE restart, the fragment already parsed
 * and checked by the receiving node) or DELETE. */
const whipAction = z.discriminatedUnion('method', [
  z.object({ method: z.literal('PATCH'), ufrag: iceCredential, pwd: iceCredential, ifMatch: z.string().max(256).optional() }),
  z.object({ method: z.literal('DELETE') }),
]);
export type WhipAction = z.infer<typeof whipAction>;

/** Receiving node → holder. */
const forwardRequest = z.object({ roomId: id, resourceId: id, action: whipAction });

/** The holder's answer, sent to the client as is. */
const whipReply = z.object({
  status: z.number().int().min(200).max(299),
  etag: z.string().max(256).optional(),
  /** An RFC 8840 fragment (the answer to an ICE restart). */
  sdpfrag: z.string().max(WHIP_MAX_SDP_BYTES).optional(),
});
export type WhipReply = z.infer<typeof whipReply>;

/** What WhipSessions needs of the cascade's node plumbing. */
export interface WhipNodes {
  readonly nodeId: string;
  readonly bus: NodeBus;
  /** How long a forwarded request may wait for its answer. */
  readonly requestTimeoutMs: number;
  /** Whether `node` still beats (a node taken for dead never comes back). */
  nodeAlive(node: string): Promise<boolean>;
}

/** Where a resource's session is: here, or on another node. */
export type WhipPlace = { ingest: WhipIngest } | { node: string };

/** Act on a session of this node. */
async function actOn(ingest: WhipIngest, action: WhipAction): Promise<WhipReply> {
  if (action.method === 'DELETE') {
    // Closing its transport also takes it off the room (RoomIngestSlot.adopt).
    ingest.close('deleted');
    return { status: 200 };
  }
  const current = action.ifMatch === undefined || action.ifMatch === '*' || action.ifMatch === ingest.etag;
  const { ufrag, pwd } = ingest.remoteIce;
  if (action.ufrag !== undefined && (action.ufrag !== ufrag || action.pwd !== pwd)) {
    // New client credentials: an ICE restart (RFC 9725 §4.3.2; clients send If-Match: "*").
    if (!current) throw new AppError('PRECONDITION_FAILED', 'If-Match does not name this ICE session (ETag)');
    if (!action.pwd) throw new AppError('BAD_REQUEST', 'an ICE restart needs a=ice-pwd with a=ice-ufrag');
    const sdpfrag = await ingest.restartIce(action.ufrag, action.pwd);
    return { status: 200, etag: ingest.etag, sdpfrag };
  }
  // Trickled candidates of the current session. An ICE-lite server needs none of them: it
  // answers the client's checks from wherever they come.
  if (!current) throw new AppError('PRECONDITION_FAILED', 'If-Match does not name this ICE session (ETag)');
  return { status: 204 };
}

export class WhipSessions {
  /** This node's sessions by resource id; a session removes itself when it ends. */
  private readonly local = new Map<string, WhipIngest>();
  private refresher: NodeJS.Timeout | null = null;

  constructor(
    private readonly owners: WhipOwners,
    private readonly nodes: WhipNodes,
    private readonly log: Logger,
  ) {}

  /** Serve other nodes' forwarded requests, and keep this node's records alive. */
  start(): void {
    this.nodes.bus.handle('whip', (params) => {
      const { roomId, resourceId, action } = forwardRequest.parse(params);
      return actOn(this.localSession(roomId, resourceId), action);
    });
    this.refresher = setInterval(() => this.refresh(), WHIP_OWNER_REFRESH_MS);
    this.refresher.unref();
  }

  stop(): void {
    if (this.refresher) clearInterval(this.refresher);
    this.refresher = null;
  }

  /** A new session of this node: recorded for the other nodes until it ends. */
  async add(ingest: WhipIngest): Promise<void> {
    const { roomId, id: resourceId } = ingest;
    this.local.set(resourceId, ingest);
    ingest.onClose(() => {
      this.local.delete(resourceId);
      this.owners.remove(roomId, resourceId).catch((err: unknown) => this.log.warn({ err, roomId, resourceId }, 'WHIP owner record not removed (it expires)'));
    });
    // Without the record the session still works, from this node only; the refresh retries.
    await this.owners
      .put(roomId, resourceId, this.nodes.nodeId)
      .catch((err: unknown) => this.log.warn({ err, roomId, resourceId }, 'WHIP owner record not written; its URL works on this node only until the next refresh'));
    if (ingest.closed) await this.owners.remove(roomId, resourceId).catch(() => undefined);
  }

  /** Where the room's resource is; NOT_FOUND when nowhere (ended, unknown, of another room). */
  async locate(roomId: string, resourceId: string): Promise<WhipPlace> {
    const ingest = this.local.get(resourceId);
    if (ingest) {
      if (ingest.roomId !== roomId) throw notFound('WHIP resource');
      return { ingest };
    }
    const node = await this.owners.owner(roomId, resourceId);
    if (!node || node === this.nodes.nodeId) throw notFound('WHIP resource');
    if (!(await this.nodes.nodeAlive(node))) {
      // Its node died, and the session with it; the record would expire by itself.
      await this.owners.remove(roomId, resourceId).catch(() => undefined);
      throw notFound('WHIP resource');
    }
    return { node };
  }

  /** Do `action` where the session is, and say what to answer the client. */
  async act(roomId: string, resourceId: string, place: WhipPlace, action: WhipAction): Promise<WhipReply> {
    if ('ingest' in place) return actOn(place.ingest, action);
    const { node } = place;
    let answer: unknown;
    try {
      answer = await this.nodes.bus.request(node, 'whip', { roomId, resourceId, action }, this.nodes.requestTimeoutMs);
    } catch (err) {
      if (!isBusTimeout(err)) throw err;
      // It may have died since it was looked up.
      if (await this.nodes.nodeAlive(node)) {
        throw new AppError('UNAVAILABLE', 'the server holding this WHIP session did not answer in time; try again');
      }
      // Its node died, and the session with it.
      await this.owners.remove(roomId, resourceId).catch(() => undefined);
      throw notFound('WHIP resource');
    }
    this.log.debug({ roomId, resourceId, node, method: action.method }, 'WHIP request forwarded to the node holding the session');
    return whipReply.parse(answer);
  }

  private localSession(roomId: string, resourceId: string): WhipIngest {
    const ingest = this.local.get(resourceId);
    if (!ingest || ingest.roomId !== roomId) throw notFound('WHIP resource');
    return ingest;
  }

  private refresh(): void {
    for (const ingest of this.local.values()) {
      if (ingest.closed) continue;
      this.owners
        .put(ingest.roomId, ingest.id, this.nodes.nodeId)
        .catch((err: unknown) => this.log.warn({ err, roomId: ingest.roomId, resourceId: ingest.id }, 'WHIP owner record not refreshed'));
    }
  }
}
