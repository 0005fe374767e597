/** Real socket.io-client and HTTP helpers, typed by the shared protocol module. */
import { io as connectIo, type Socket } from 'socket.io-client';
import {
  unpackRoomBatch,
  type Ack,
  type ClientEventName,
  type ClientEventResults,
  type ClientPayload,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type UserRef,
} from '../../src/protocol/index.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestUser extends UserRef {
  token: string;
}

export async function devUser(url: string, name: string): Promise<TestUser> {
  const res = await http(url, 'POST', '/api/dev/token', null, { name });
  if (res.status !== 201) throw new Error(`dev token failed: ${res.status} ${JSON.stringify(res.body)}`);
  const body = res.body as { token: string; user: UserRef };
  return { ...body.user, token: body.token };
}

export async function http(
  url: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const open: TestSocket[] = [];

export async function connect(url: string, user?: TestUser | null, opts: { reconnection?: boolean } = {}): Promise<TestSocket> {
  const socket: TestSocket = connectIo(url, {
    transports: ['websocket'],
    auth: user ? { token: user.token } : {},
    reconnection: opts.reconnection ?? false,
    forceNew: true,
  });
  // Batched room events reach the tests' per-event listeners like single ones (protocol/room-batch.ts).
  unpackRoomBatch(socket);
  open.push(socket);
  await new Promise<void>((ok, fail) => {
    socket.once('connect', () => ok());
    socket.once('connect_error', (err) => fail(err));
  });
  return socket;
}

export function closeAllSockets(): void {
  for (const s of open.splice(0)) s.disconnect();
}

/** Emit and wait for the ack. */
export function request<E extends ClientEventName>(
  socket: TestSocket,
  event: E,
  payload: ClientPayload<E>,
): Promise<Ack<ClientEventResults[E]>> {
  return new Promise((ok) => {
    (socket.emit as (...a: unknown[]) => void)(event, payload, ok);
  });
}

/** Emit anything (bad names, bad payloads) and wait for the ack. */
export function requestRaw(socket: TestSocket, event: string, ...args: unknown[]): Promise<Ack<unknown>> {
  return new Promise((ok) => {
    (socket.emit as (...a: unknown[]) => void)(event, ...args, ok);
  });
}

/** Like request, but fails the test unless the ack is ok. */
export async function ok<E extends ClientEventName>(
  socket: TestSocket,
  event: E,
  payload: ClientPayload<E>,
): Promise<ClientEventResults[E]> {
  const res = await request(socket, event, payload);
  if (!res.ok) throw new Error(`${event} failed: ${res.error.code} ${res.error.message}`);
  return res.data;
}

/** Resolves with the next `event` whose payload satisfies `match`; rejects after `timeoutMs`. */
export function nextEvent<K extends keyof ServerToClientEvents>(
  socket: TestSocket,
  event: K,
  match: (payload: Parameters<ServerToClientEvents[K]>[0]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<Parameters<ServerToClientEvents[K]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      (socket.off as (e: string, f: unknown) => void)(event, listener);
      reject(new Error(`timed out waiting for ${String(event)}`));
    }, timeoutMs);
    const listener = (payload: Parameters<ServerToClientEvents[K]>[0]) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      (socket.off as (e: string, f: unknown) => void)(event, listener);
      resolve(payload);
    };
    (socket.on as (e: string, f: unknown) => void)(event, listener);
  });
}

/** A host with a live room holding one product, ready for viewers. */
export async function liveRoom(url: string, hostName = 'Host') {
  const host = await devUser(url, hostName);
  const created = await http(url, 'POST', '/api/rooms', host.token, { title: `${hostName}'s live`, hostKind: 'buyer' });
  const roomId = created.body.room.id as string;
  const product = await http(url, 'POST', `/api/rooms/${roomId}/products`, host.token, {
    title: 'Silk scarf',
    price: 2999,
    currency: 'usd',
    imageUrl: 'https://example.com/scarf.jpg',
    brand: 'Loom',
  });
  await http(url, 'POST', `/api/rooms/${roomId}/live`, host.token);
  return { host, roomId, productId: product.body.product.id as string };
}

export interface JoinedViewer {
  user: TestUser;
  socket: TestSocket;
}

/** Signed-in viewers joined to a room, the i-th on `urls[i % urls.length]` (alternating nodes, so
 * what a test checks must cross them). */
export function joinedViewers(urls: readonly string[], roomId: string, names: string[]): Promise<JoinedViewer[]> {
  return Promise.all(
    names.map(async (name, i) => {
      const url = urls[i % urls.length]!;
      const user = await devUser(url, name);
      const socket = await connect(url, user);
      await ok(socket, 'room:join', { roomId });
      return { user, socket };
    }),
  );
}

/** A socket of `user` (a guest for null) joined to a room. */
export async function joinedSocket(url: string, roomId: string, user: TestUser | null): Promise<TestSocket> {
  const socket = await connect(url, user);
  await ok(socket, 'room:join', { roomId });
  return socket;
}
