/**
 * The simulated clients every bench's load generators use. Two kinds:
 *   - wire clients: a plain `ws` socket speaking the Socket.IO wire protocol (engine.io open →
 *     CONNECT with the token → events, acks, heartbeats). The server sees an ordinary Socket.IO
 *     client; the generator pays the same per frame as the raw `ws` baseline's clients, so a
 *     comparison measures the servers rather than two client libraries;
 *   - socket.io-client sockets (join-storm, where the library's own join path is the point).
 * Event frames are decoded the way socket.io-client decodes them (text → drop the `42` prefix →
 * JSON.parse), and a `room:batch` frame (one argument: `[eventName, payload]` tuples in emission
 * order) is unpacked into its events, so every bench counts frames and messages separately.
 */
import { io as connectIo, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { unpackRoomBatch, type Ack, type ClientToServerEvents, type JoinSnapshot, type ServerToClientEvents } from '../src/protocol/index.js';

export type ViewerSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The batch frame's event name (room micro-batching). */
export const BATCH_EVENT = 'room:batch';

/**
 * Calls `each(name, payload)` for every event an event frame (`42[...]`) carries: one for a plain
 * event, one per tuple for a `room:batch`. Returns how many events it carried (0: not an event frame).
 */
export function decodeEvents(frame: string, each: (name: string, payload: any) => void): number {
  if (!frame.startsWith('42')) return 0;
  const packet = JSON.parse(frame.slice(frame.indexOf('[')));
  if (!Array.isArray(packet)) return 0;
  if (packet[0] === BATCH_EVENT && Array.isArray(packet[1])) {
    for (const tuple of packet[1] as [string, unknown][]) each(tuple[0], tuple[1]);
    return packet[1].length;
  }
  each(packet[0], packet[1]);
  return 1;
}

/** Run `task(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function inBatches(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

export interface WireSocket {
  /** Emits an event; with `ack`, asks for the server's answer (ack id on the wire). */
  emit(event: string, payload: unknown, ack?: (res: any) => void): void;
  close(): void;
}

const CONNECT_TIMEOUT_MS = 60_000;

/**
 * A Socket.IO connection over a plain `ws` socket. `onEventFrame` gets every event frame's text
 * (decode it with decodeEvents); protocol frames (open, ping, connect, acks) are handled here.
 */
export function wireConnect(url: string, token: string, onEventFrame: (frame: string) => void): Promise<WireSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
  const acks = new Map<number, (res: any) => void>();
  let nextAck = 0;
  const socket: WireSocket = {
    emit(event, payload, ack) {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (!ack) return ws.send(`42${JSON.stringify([event, payload])}`);
      const id = nextAck++;
      acks.set(id, ack);
      ws.send(`42${id}${JSON.stringify([event, payload])}`);
    },
    close: () => ws.terminate(),
  };
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('Socket.IO connect timed out')), CONNECT_TIMEOUT_MS);
    ws.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    ws.on('message', (data) => {
      const frame = data.toString();
      if (frame.startsWith('42')) onEventFrame(frame);
      else if (frame.startsWith('43')) {
        const open = frame.indexOf('[');
        const id = Number(frame.slice(2, open));
        const cb = acks.get(id);
        acks.delete(id);
        cb?.((JSON.parse(frame.slice(open)) as unknown[])[0]);
      } else if (frame === '2') ws.send('3'); // engine.io heartbeat
      else if (frame.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
      else if (frame.startsWith('40')) {
        clearTimeout(timer);
        ok(socket);
      } else if (frame.startsWith('44')) {
        clearTimeout(timer);
        fail(new Error(`connect refused: ${frame.slice(2)}`));
      }
    });
  });
}

/** Emit with an ack, as a promise. */
export function wireCall<T = unknown>(socket: WireSocket, event: string, payload: unknown): Promise<Ack<T>> {
  return new Promise((ok) => socket.emit(event, payload, ok));
}

/** A wire client joined to a room (throws if the join is refused). */
export async function wireViewer(url: string, token: string, roomId: string, onEventFrame: (frame: string) => void): Promise<WireSocket> {
  const socket = await wireConnect(url, token, onEventFrame);
  const joined = await wireCall<JoinSnapshot>(socket, 'room:join', { roomId });
  if (!joined.ok) throw new Error(`room:join failed: ${joined.error.code} ${joined.error.message}`);
  return socket;
}

/** A plain `ws` client of the raw relay baseline; every frame it gets is an event frame. */
export function wsConnect(wsUrl: string, onEventFrame: (frame: string) => void): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  ws.on('message', (data) => onEventFrame(data.toString()));
  return new Promise((ok, fail) => {
    ws.once('open', () => ok(ws));
    ws.once('error', fail);
  });
}

/** A socket.io-client connection (websocket transport only, no reconnection). Batched room
 * events (`room:batch`) are unpacked to their own listeners, as a real client does, so a bench
 * waiting for `auction:state` or `presence:update` sees them however they arrive. */
export function connectSocketIo(url: string, token: string): Promise<ViewerSocket> {
  const socket: ViewerSocket = connectIo(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  unpackRoomBatch(socket);
  return new Promise((ok, fail) => {
    socket.once('connect', () => ok(socket));
    socket.once('connect_error', (err) => {
      socket.disconnect();
      fail(err);
    });
  });
}

export function joinRoom(socket: ViewerSocket, roomId: string): Promise<Ack<JoinSnapshot>> {
  return new Promise((ok) => socket.emit('room:join', { roomId }, ok));
}
