/**
 * Local delivery of `room:batch` frames straight onto each WebSocket.
 *
 * Socket.IO already encodes a broadcast once and pre-builds its WebSocket frame, but then hands
 * it to every socket through engine.io's per-packet machinery (packet object, writeBuffer,
 * flush/drain events, a write callback that re-arms the transport): measured on the same frames
 * and clients (bench/batch-writepath.ts, docs/BENCHMARKS.md "Room batching"), that path costs
 * 1.3–1.5× the CPU per delivery of a plain `ws` relay, and writing the pre-built frame to the
 * socket's ws sender ourselves costs 0.9–1.0×.
 *
 * So for our batch frames, a socket whose engine.io connection is idle — open, WebSocket
 * transport, nothing queued in its writeBuffer, no write awaiting its callback (`writable`),
 * no per-message compression — gets the frame written directly; that is exactly the state in
 * which engine.io itself would write it at once, so order with everything else it sends holds.
 * Any other socket (polling, upgrading, backed up, closing) goes through Socket.IO as before.
 * Only frames this node's batching made are touched; every other broadcast is Socket.IO's own.
 * (Socket.IO's onAnyOutgoing listeners are not told of frames written this way; nothing here
 * uses them.)
 *
 * It reaches into socket.io-adapter (`_encode`, `apply`), engine.io (`writeBuffer`,
 * `transport.writable`, `transport.socket`) and ws (`_sender.sendFrame`, the same call engine.io
 * makes for pre-built frames). Should any of them change shape, the checks below fail and
 * delivery falls back to Socket.IO's path; test/room-batching.test.ts would still pass, only the
 * CPU figure would regress.
 */
import type { Namespace } from 'socket.io';

type Adapter = Namespace['adapter'];

/** The in-memory adapter's internals used here (socket.io-adapter 2.5). */
interface AdapterInternals {
  rooms: Map<string, Set<string>>;
  nsp: { sockets: Map<string, unknown> };
  _encode(packet: { data?: unknown[] }, packetOpts: { wsPreEncodedFrame?: unknown }): unknown;
  apply(opts: { rooms: Set<string>; except?: Set<string> }, callback: (socket: unknown) => void): void;
}

/** What of a Socket.IO socket's engine.io connection this looks at. */
interface EngineSocketView {
  conn?: {
    readyState?: string;
    writeBuffer?: unknown[];
    transport?: {
      name?: string;
      writable?: boolean;
      perMessageDeflate?: unknown;
      socket?: { readyState?: number; _sender?: { sendFrame?: (frame: unknown) => void } };
    };
  };
}

const WS_OPEN = 1;

/** Writes `frame` if the connection is idle on a WebSocket; false: leave it to Socket.IO. */
function writeFrame(socket: EngineSocketView, frame: unknown): boolean {
  const conn = socket.conn;
  const transport = conn?.transport;
  const ws = transport?.socket;
  if (conn?.readyState !== 'open' || conn.writeBuffer?.length !== 0) return false;
  if (transport?.name !== 'websocket' || transport.writable !== true || transport.perMessageDeflate) return false;
  if (ws?.readyState !== WS_OPEN || typeof ws._sender?.sendFrame !== 'function') return false;
  ws._sender.sendFrame(frame);
  return true;
}

/** Makes this adapter write its `room:batch` frames directly to idle WebSockets (see above). */
export function writeBatchFramesDirectly(adapter: Adapter): void {
  const internals = adapter as unknown as AdapterInternals;
  if (typeof internals._encode !== 'function' || typeof internals.apply !== 'function' || !(internals.rooms instanceof Map)) return;
  const encode = internals._encode.bind(internals);
  const apply = internals.apply.bind(internals);
  // broadcast() calls _encode and then, synchronously, apply: the frame is handed over between them.
  let batchFrame: unknown = null;
  internals._encode = (packet, packetOpts) => {
    const encoded = encode(packet, packetOpts);
    batchFrame = packet.data?.[0] === 'room:batch' ? (packetOpts.wsPreEncodedFrame ?? null) : null;
    return encoded;
  };
  internals.apply = (opts, callback) => {
    const frame = batchFrame;
    batchFrame = null;
    if (frame === null || opts.rooms.size !== 1 || (opts.except?.size ?? 0) > 0) return apply(opts, callback);
    const [channel] = opts.rooms;
    // One room, nobody excepted: its members, each once, without apply's de-duplication set.
    for (const id of internals.rooms.get(channel!) ?? []) {
      const socket = internals.nsp.sockets.get(id);
      if (socket && !writeFrame(socket as EngineSocketView, frame)) callback(socket);
    }
  };
}
