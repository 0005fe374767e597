/**
 * The page's one Socket.IO connection, typed by the protocol module. Every request is checked
 * against the server's own zod schema before it is sent, and answered through its ack.
 * Reconnection is visible: after a drop the page shows "reconnecting"; on return it either
 * resumes (connection state recovery replays what it missed) or joins its room again and
 * re-renders from the fresh snapshot.
 */
import { io, type Socket } from 'socket.io-client';
import {
  clientEventSchemas,
  unpackRoomBatch,
  type Ack,
  type ClientEventName,
  type ClientEventResults,
  type ClientPayload,
  type ClientToServerEvents,
  type ChatMessage,
  type JoinSnapshot,
  type ServerToClientEvents,
} from '../../src/protocol/index.js';
import { humanError } from './messages.js';
import { describeIssue, renewSession } from './session.js';

export type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type ConnectionState = 'connecting' | 'online' | 'reconnecting';

export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** RATE_LIMITED, SLOW_MODE, MUTED: how long until the same request may succeed. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const ACK_TIMEOUT_MS = 10_000;
/** How far back a rejoin pages chat:history to fill the gap (pages of 100). */
const GAP_PAGES_MAX = 5;

/** Chat ids are Redis Stream ids `<ms>-<seq>`: compare them as numbers, not strings. */
function olderOrSame(a: string, b: string): boolean {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am < bm || (am === bm && as <= bs);
}

export interface LiveClientHooks {
  /** A (re)join answered: render everything from it. */
  onSnapshot(snap: JoinSnapshot): void;
  /** Banned, room ended, or a rejoin was refused: the page should stop acting in the room. */
  onRemoved(reason: string): void;
}

export class LiveClient {
  readonly socket: LiveSocket;
  private roomId: string | null = null;
  private removed = false;
  private everConnected = false;
  /** Newest chat message this page has shown: a rejoin fills the gap back to it. */
  private lastChatId: string | null = null;
  private readonly banner: HTMLElement | null;

  constructor(
    token: string | null,
    private readonly hooks: LiveClientHooks,
  ) {
    this.socket = io({
      auth: token ? { token } : {},
      transports: ['websocket'],
      // A live show: come back fast after a blip, but don't hammer a server that is down.
      reconnectionDelay: 300,
      reconnectionDelayMax: 2000,
    });
    // Busy rooms' events arrive coalesced in room:batch frames: hand each to its own listeners.
    unpackRoomBatch(this.socket);
    this.banner = document.getElementById('connection');
    this.socket.on('connect', () => void this.onConnect());
    this.socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') this.setState('reconnecting');
    });
    this.socket.on('connect_error', () => {
      if (this.everConnected) this.setState('reconnecting');
    });
    // Tokens are short-lived: the server says when this one ran out and then disconnects. Get a
    // fresh one for the same user and reconnect with it; the room is joined again on connect.
    this.socket.on('auth:expired', () => {
      renewSession()
        .then((s) => s && this.reauthenticate(s.token))
        .catch(() => this.setState('reconnecting'));
    });
    this.socket.on('chat:message', (m) => this.sawChat(m));
    // Over the per-user or per-address connection cap after a reconnect: the server closes this
    // connection and will not take it back, so say why instead of showing "reconnecting" forever.
    this.socket.on('connection:refused', ({ message }) => {
      this.removed = true;
      hooks.onRemoved(`Disconnected: this live is open in too many tabs or devices. (${message})`);
    });
    this.socket.on('room:removed', ({ roomId, reason }) => {
      if (roomId !== this.roomId) return;
      this.removed = true;
      hooks.onRemoved(reason === 'banned' ? 'You were removed from this room by a moderator.' : 'This live has ended.');
    });
    this.setState('connecting');
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Send one event and resolve with its data, or reject with the server's error code and message. */
  async request<E extends ClientEventName>(event: E, payload: ClientPayload<E>): Promise<ClientEventResults[E]> {
    const parsed = clientEventSchemas[event].safeParse(payload);
    if (!parsed.success) throw new RequestError('BAD_REQUEST', describeIssue(parsed.error));
    await this.ready();
    const emit = this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck as (e: string, p: unknown) => Promise<Ack<ClientEventResults[E]>>;
    let res: Ack<ClientEventResults[E]>;
    try {
      // The raw payload goes out: the server parses it with the same schema, and its word counts.
      res = await emit.call(this.socket, event, payload);
    } catch {
      throw new RequestError('UNAVAILABLE', 'The server did not answer in time.');
    }
    if (!res.ok) throw new RequestError(res.error.code, res.error.message, res.error.retryAfterMs);
    return res.data;
  }

  /** Join a room; also remembered, so a reconnection that could not resume joins again. */
  async join(roomId: string): Promise<JoinSnapshot> {
    this.roomId = roomId;
    this.removed = false;
    const snap = await this.request('room:join', { roomId });
    snap.chat.messages.forEach((m) => this.sawChat(m));
    this.hooks.onSnapshot(snap);
    return snap;
  }

  private sawChat(m: ChatMessage): void {
    if (!this.lastChatId || !olderOrSame(m.id, this.lastChatId)) this.lastChatId = m.id;
  }

  /**
   * After a rejoin (recovery failed, e.g. the node crashed): the snapshot holds the newest 50
   * messages; page older ones until the last message this page had, so nothing said while away
   * is silently missing.
   */
  private async fillChatGap(snap: JoinSnapshot): Promise<void> {
    const since = this.lastChatId;
    if (!since) return;
    const gap: ChatMessage[] = [];
    let oldest = snap.chat.messages[0]?.id;
    for (let page = 0; page < GAP_PAGES_MAX && oldest && !olderOrSame(oldest, since); page++) {
      const older = await this.request('chat:history', { before: oldest, limit: 100 });
      if (older.length === 0) break;
      gap.unshift(...older.filter((m) => !olderOrSame(m.id, since)));
      oldest = older[0]!.id;
    }
    snap.chat.messages = [...gap, ...snap.chat.messages];
  }

  /** Sign-in changed: reconnect with the new token and rejoin as that user. */
  reauthenticate(token: string): void {
    this.socket.auth = { token };
    this.socket.disconnect().connect();
  }

  private async ready(): Promise<void> {
    if (this.socket.connected) return;
    if (this.everConnected) throw new RequestError('UNAVAILABLE', 'Reconnecting… try again in a moment.');
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new RequestError('UNAVAILABLE', 'Could not reach the server.')), ACK_TIMEOUT_MS);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        ok();
      });
    });
  }

  private async onConnect(): Promise<void> {
    const first = !this.everConnected;
    this.everConnected = true;
    if (first || this.socket.recovered || !this.roomId || this.removed) {
      this.setState('online');
      return;
    }
    // The server forgot this connection (too long away, or its node crashed): join again, and
    // page chat history back to what we had, which recovery would have replayed.
    try {
      const snap = await this.request('room:join', { roomId: this.roomId });
      await this.fillChatGap(snap).catch(() => undefined); // best effort: the snapshot stands
      snap.chat.messages.forEach((m) => this.sawChat(m));
      this.hooks.onSnapshot(snap);
      this.setState('online');
    } catch (err) {
      this.setState('online');
      this.removed = true;
      this.hooks.onRemoved(humanError(err));
    }
  }

  private setState(state: ConnectionState): void {
    document.body.dataset.connection = state;
    if (!this.banner) return;
    this.banner.hidden = state === 'online';
    this.banner.textContent = state === 'reconnecting' ? 'Connection lost — reconnecting…' : state === 'connecting' ? 'Connecting…' : '';
  }
}
