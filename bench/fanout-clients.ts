/**
 * Client-side machinery of bench/chat-fanout.ts, shared by the run against our server and the
 * plain-ws baseline so both are measured the same way: one recorder, one handler function shared
 * by every viewer, latency from a send timestamp carried in the message text (sender and viewers
 * live in this process, so they read the same monotonic clock).
 */
import { performance } from 'node:perf_hooks';
import { io as connectIo, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { Ack, ChatMessage, ClientToServerEvents, JoinSnapshot, ServerToClientEvents } from '../src/protocol/index.js';

export type ViewerSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const HIST_RES_MS = 0.05;
const HIST_MAX_MS = 60_000; // anything slower lands in the last bucket
const HIST_BUCKETS = Math.ceil(HIST_MAX_MS / HIST_RES_MS) + 1;
const PREFIX = 'fo ';
// Chat lines are short; pad to a typical one-liner so the frame size is realistic (~80 chars).
const PAD = 'great scarf, does it come in blue? asking for my mum';

/** The message text: `fo <seq> <sentAtMs> <pad>`. */
export function benchText(seq: number): string {
  return `${PREFIX}${seq} ${performance.now().toFixed(3)} ${PAD}`;
}

/** A latency histogram with fixed 0.05 ms buckets: O(1) to record, no allocation per sample. */
export class LatencyHistogram {
  private readonly buckets = new Uint32Array(HIST_BUCKETS);
  count = 0;

  record(ms: number): void {
    const i = ms <= 0 ? 0 : Math.min(HIST_BUCKETS - 1, Math.floor(ms / HIST_RES_MS));
    this.buckets[i]!++;
    this.count++;
  }

  /** Upper edge of the bucket holding the q-quantile, in ms; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return (i + 1) * HIST_RES_MS;
    }
    return HIST_MAX_MS;
  }
}

/**
 * Counts what the viewers receive. Messages with seq in [measuredFrom, measuredTo) are the
 * measured ones (their latency is recorded, and each must reach every viewer); deliveries of any
 * message that arrive inside the time window count toward throughput.
 */
export class FanoutRecorder {
  readonly latency = new LatencyHistogram();
  deliveriesInWindow = 0;
  measuredDeliveries = 0;
  malformed = 0;
  sample: ChatMessage | null = null;
  private windowStart = Number.POSITIVE_INFINITY;
  private windowEnd = Number.NEGATIVE_INFINITY;
  private drained: { target: number; resolve: () => void } | null = null;

  constructor(
    private readonly measuredFrom: number,
    private readonly measuredTo: number,
  ) {}

  setWindow(startMs: number, endMs: number): void {
    this.windowStart = startMs;
    this.windowEnd = endMs;
  }

  /** The one handler every viewer calls with the received message text. */
  readonly onText = (text: string): void => {
    const now = performance.now();
    const a = text.indexOf(' ', PREFIX.length);
    const b = text.indexOf(' ', a + 1);
    const seq = Number(text.slice(PREFIX.length, a));
    const sentAt = Number(text.slice(a + 1, b));
    if (a < 0 || b < 0 || !Number.isFinite(seq) || !Number.isFinite(sentAt)) {
      this.malformed++;
      return;
    }
    if (now >= this.windowStart && now <= this.windowEnd) this.deliveriesInWindow++;
    if (seq < this.measuredFrom || seq >= this.measuredTo) return;
    this.latency.record(now - sentAt);
    this.measuredDeliveries++;
    if (this.drained && this.measuredDeliveries >= this.drained.target) this.drained.resolve();
  };

  /** Resolves once `target` measured deliveries arrived, or after `timeoutMs` (never rejects). */
  waitForDeliveries(target: number, timeoutMs: number): Promise<void> {
    if (this.measuredDeliveries >= target) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.drained = {
        target,
        resolve: () => {
          clearTimeout(timer);
          this.drained = null;
          resolve();
        },
      };
    });
  }
}

/** Run `task(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function inBatches(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

/** A socket.io-client connection (websocket transport only, no reconnection). */
export function connectSocketIo(url: string, token: string): Promise<ViewerSocket> {
  const socket: ViewerSocket = connectIo(url, {
    transports: ['websocket'],
    auth: { token },
    reconnection: false,
    forceNew: true,
  });
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

/** A viewer of our server: connected, joined, listening to chat with the shared handler. */
export async function socketIoViewer(url: string, token: string, roomId: string, onText: (t: string) => void): Promise<ViewerSocket> {
  const socket = await connectSocketIo(url, token);
  socket.on('chat:message', (msg) => onText(msg.text));
  const joined = await joinRoom(socket, roomId);
  if (!joined.ok) throw new Error(`room:join failed: ${joined.error.code} ${joined.error.message}`);
  return socket;
}

/**
 * A viewer of our server speaking the Socket.IO wire protocol over a plain `ws` socket: engine.io
 * open → CONNECT with the token → `room:join` with an ack → chat events decoded exactly as the
 * baseline viewer decodes its frames. The server sees a normal Socket.IO client; the load
 * generator costs the same per delivery in both runs, so latency compares the servers rather
 * than two client libraries (VIEWER_CLIENT=socket.io uses socket.io-client instead).
 */
export function wireViewer(url: string, token: string, roomId: string, onText: (t: string) => void): Promise<{ disconnect(): void }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
  const handle = { disconnect: () => ws.close() };
  return new Promise((ok, fail) => {
    ws.on('error', fail);
    ws.on('message', (data) => {
      const frame = data.toString();
      if (frame.startsWith('42')) {
        const packet = JSON.parse(frame.slice(2)) as [string, ChatMessage, string?];
        if (packet[0] === 'chat:message') onText(packet[1].text);
      } else if (frame === '2') {
        ws.send('3'); // engine.io heartbeat
      } else if (frame.startsWith('0')) {
        ws.send(`40${JSON.stringify({ token })}`);
      } else if (frame.startsWith('40')) {
        ws.send(`420${JSON.stringify(['room:join', { roomId }])}`);
      } else if (frame.startsWith('430')) {
        const [ack] = JSON.parse(frame.slice(3)) as [Ack<JoinSnapshot>];
        if (ack.ok) ok(handle);
        else fail(new Error(`room:join failed: ${ack.error.code} ${ack.error.message}`));
      } else if (frame.startsWith('44')) {
        fail(new Error(`connect refused: ${frame.slice(2)}`));
      }
    });
  });
}

export function connectWs(wsUrl: string): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  return new Promise((ok, fail) => {
    ws.once('open', () => ok(ws));
    ws.once('error', fail);
  });
}

/**
 * A baseline viewer. It decodes a frame the way socket.io-client does for an event packet —
 * text frame to string, drop the `42` (engine.io message + socket.io event) prefix, JSON.parse —
 * and hands the message text to the shared handler.
 */
export async function wsViewer(wsUrl: string, onText: (t: string) => void): Promise<WebSocket> {
  const ws = await connectWs(wsUrl);
  ws.on('message', (data) => {
    const packet = JSON.parse(data.toString().slice(2)) as [string, ChatMessage, string?];
    onText(packet[1].text);
  });
  return ws;
}

/**
 * Calls `send(seq)` for seq 0..count-1 at `rate` per second on an absolute schedule, so a late
 * timer catches up instead of drifting. `onStart` gets the time the first message is due; the
 * promise resolves once the last one was sent.
 */
export function paceMessages(rate: number, count: number, send: (seq: number) => void, onStart: (t0: number) => void): Promise<void> {
  const intervalMs = 1000 / rate;
  const t0 = performance.now() + 20;
  onStart(t0);
  let seq = 0;
  return new Promise((done) => {
    const tick = () => {
      const now = performance.now();
      while (seq < count && t0 + seq * intervalMs <= now) send(seq++);
      if (seq >= count) return done();
      setTimeout(tick, Math.max(0, t0 + seq * intervalMs - performance.now()));
    };
    setTimeout(tick, 20);
  });
}
