/**
 * Closes a gap in connection state recovery with the Redis Streams adapter (0.3.x). To restore a
 * session it reads the stream from the client's offset up to the tail it finds (T), and only when
 * that read returns does the socket join its rooms. Entries after T that this node delivered to
 * its sockets in that moment — read by its stream reader on another connection, or its own
 * broadcasts, delivered when their XADD returns — reach neither the replay nor the socket: the
 * client silently misses them. Under load this happened in the rolling-restart test (a viewer
 * moved off a draining node missed a chat line sent 0.2 s before it was back).
 *
 * So this node remembers the room broadcasts it delivered in the last few seconds, and a restored
 * session gets those after T appended to its replay. The result can overlap the live stream by
 * an entry or two (the adapter's own replay can too), never leave a hole; clients drop chat ids
 * they already have (docs/PROTOCOL.md).
 *
 * It relies on adapter internals (onMessage, publishAndReturnOffset, restoreSession), so the
 * adapter changing them would show in test/rolling-restart.test.ts (a viewer missing chat).
 *
 * A second hole, on the node a client leaves: the adapter delivers this node's own broadcasts
 * when their XADD returns, ahead of older entries from other nodes that its stream reader has not
 * handed over yet. A client that gets own entry E2 moves its offset past E1 from another node; if
 * its connection closes before E1 arrives (a drain, a network drop), recovery starts after E2 and
 * E1 is lost (seen in the rolling-restart test: a line sent 0.2 s before SIGTERM missed by all the
 * drained viewers). So own broadcasts are delivered once the reader has reached their entry, in
 * stream order (at most ORDER_WAIT_MAX_MS later, should the reader be stuck).
 */
import type { LiveServer } from './socket-kit.js';

/** How long delivered broadcasts are remembered: far longer than a restore takes. */
const REMEMBER_MS = 10_000;
/** And at most this many, whatever the rate. */
const REMEMBER_MAX = 20_000;
const BROADCAST = 3; // socket.io-adapter MessageType.BROADCAST
/** Longest an own broadcast waits for the stream reader before it is delivered anyway. */
const ORDER_WAIT_MAX_MS = 1000;

interface EncodedOpts {
  rooms: string[];
  except: string[];
  flags?: { volatile?: boolean };
}
interface BroadcastMessage {
  type: number;
  uid?: string;
  nsp?: string;
  data?: { packet?: { type: number; id?: number; data: unknown[] }; opts?: EncodedOpts; requestId?: string };
}
interface Delivered {
  offset: string;
  data: unknown[];
  opts: EncodedOpts;
  at: number;
}
/** The parts of the adapter this reaches into. */
interface StreamsAdapter {
  uid: string;
  onMessage(message: BroadcastMessage, offset?: string): void;
  publishAndReturnOffset(message: BroadcastMessage): Promise<string>;
  restoreSession(pid: string, offset: string): Promise<{ rooms: string[]; missedPackets: unknown[][] } | null>;
}

export function closeRecoveryGap(io: LiveServer): void {
  const nsp = io.of('/');
  const adapter = nsp.adapter as unknown as StreamsAdapter;
  if (typeof adapter.onMessage !== 'function' || typeof adapter.publishAndReturnOffset !== 'function') return;
  const delivered: Delivered[] = [];

  // The same packets the adapter writes to the stream and would replay: room events without an
  // ack callback and not volatile. Copied now, before the adapter appends the offset to them.
  const remember = (message: BroadcastMessage): ((offset: string) => void) | null => {
    const packet = message.data?.packet;
    const opts = message.data?.opts;
    if (message.type !== BROADCAST || !packet || !opts || message.data?.requestId !== undefined) return null;
    if (packet.type !== 2 || packet.id !== undefined || opts.flags?.volatile) return null;
    const data = [...packet.data];
    return (offset) => {
      const now = Date.now();
      delivered.push({ offset, data, opts, at: now });
      while (delivered.length > REMEMBER_MAX || (delivered.length > 0 && now - delivered[0]!.at > REMEMBER_MS)) delivered.shift();
    };
  };

  // The last stream entry the reader handed over, and own broadcasts waiting for it to pass theirs.
  let polled = '0-0';
  const waiting = new Map<string, () => void>();

  // Other nodes' broadcasts: delivered synchronously by onMessage, when the stream reader gets them.
  const onMessage = adapter.onMessage.bind(adapter);
  adapter.onMessage = (message, offset) => {
    if (offset && message.uid !== adapter.uid && message.nsp === nsp.name) remember(message)?.(offset);
    onMessage(message, offset);
    if (!offset) return; // pub/sub (ephemeral) messages have no place in the stream
    polled = offset;
    // Waiting in offset order (XADD answers come back in order on the adapter's connection), so
    // the scan stops at the first one still ahead: O(released), not O(waiting) per message, which
    // in a join storm (thousands of own presence frames waiting) was a tenth of the node's CPU.
    for (const [own, release] of waiting) {
      if (compareOffsets(own, polled) > 0) break;
      release();
    }
  };
  // This node's broadcasts: the adapter delivers them locally when this promise gives the offset.
  const publish = adapter.publishAndReturnOffset.bind(adapter);
  adapter.publishAndReturnOffset = (message) => {
    const record = remember(message);
    const published = publish(message);
    if (!record) return published;
    return published.then((offset) => {
      if (compareOffsets(offset, polled) <= 0) {
        record(offset);
        return offset;
      }
      return new Promise<string>((resolve) => {
        const release = () => {
          clearTimeout(timer);
          waiting.delete(offset);
          record(offset); // delivered now: remembered for the restores from now on
          resolve(offset);
        };
        const timer = setTimeout(release, ORDER_WAIT_MAX_MS);
        waiting.set(offset, release);
      });
    });
  };

  const restore = adapter.restoreSession.bind(adapter);
  adapter.restoreSession = async (pid, offset) => {
    const session = await restore(pid, offset);
    // From here to the socket joining its rooms nothing else runs (the caller continues in a
    // microtask), so what is delivered by now is exactly what the socket can no longer get live.
    if (!session) return session;
    const replayed = new Set(session.missedPackets.map((p) => p[p.length - 1]));
    const tail = (session.missedPackets.at(-1)?.at(-1) as string | undefined) ?? offset;
    const gap = delivered
      .filter((d) => compareOffsets(d.offset, tail) > 0 && !replayed.has(d.offset) && reaches(session.rooms, d.opts))
      .sort((x, y) => compareOffsets(x.offset, y.offset));
    for (const d of gap) session.missedPackets.push([...d.data, d.offset]);
    return session;
  };
}

/** Would a broadcast with these options reach a socket in these rooms? (as the adapter decides) */
function reaches(rooms: string[], opts: EncodedOpts): boolean {
  return (opts.rooms.length === 0 || rooms.some((r) => opts.rooms.includes(r))) && rooms.every((r) => !opts.except.includes(r));
}

/** Stream entry ids "ms-seq" (unsigned decimals without leading zeros), compared as numbers:
 * by the length, then the digits, of each part. Without allocating: it runs for every message. */
export function compareOffsets(a: string, b: string): number {
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  const aMsEnd = ad < 0 ? a.length : ad;
  const bMsEnd = bd < 0 ? b.length : bd;
  const byMs = compareDigits(a, 0, aMsEnd, b, 0, bMsEnd);
  if (byMs !== 0) return byMs;
  return compareDigits(a, ad < 0 ? a.length : ad + 1, a.length, b, bd < 0 ? b.length : bd + 1, b.length);
}

/** The decimal numbers x[xs..xe) and y[ys..ye) compared; an empty range is 0. */
function compareDigits(x: string, xs: number, xe: number, y: string, ys: number, ye: number): number {
  const xl = xe - xs;
  const yl = ye - ys;
  if (xl !== yl) return xl === 0 && y.charCodeAt(ys) === 48 ? 0 : yl === 0 && x.charCodeAt(xs) === 48 ? 0 : xl - yl;
  for (let i = 0; i < xl; i++) {
    const d = x.charCodeAt(xs + i) - y.charCodeAt(ys + i);
    if (d !== 0) return d;
  }
  return 0;
}
