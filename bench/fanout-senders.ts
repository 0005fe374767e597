/**
 * The sending load generator of bench/chat-fanout.ts, in its own process: SENDERS signed-in users
 * joined to the room on our server (wire clients sending `chat:send` with an ack) and SENDERS
 * plain `ws` sockets on the raw relay. For each phase it sends `count` messages at `rate`/s on an
 * open-loop schedule fixed in advance, round-robin over the senders, and reports how late it was
 * to that schedule, the acks' latency from the scheduled time, and how busy it was.
 */
import type { WebSocket } from 'ws';
import { TokenService } from '../src/auth/tokens.js';
import type { ChatMessage } from '../src/protocol/index.js';
import { Histogram, busyMeter, childSide, epochNow, openLoop } from './bench-kit.js';
import { wireViewer, wsConnect, type WireSocket } from './clients.js';
import { benchText, type FromSenders, type SendersConfig, type ToSenders } from './fanout-protocol.js';

const ACKS_TIMEOUT_MS = 60_000;
const side = childSide<SendersConfig, ToSenders, FromSenders>();
const { cfg } = side;
const ignore = () => {};

/** The frame our server sends for one chat message, for the relay to relay as is. */
function relayFrame(sample: ChatMessage, text: string): string {
  const id = `${Date.now()}-0`; // shaped like the Redis stream ids our frames carry as offsets
  return `42${JSON.stringify(['chat:message', { id, user: sample.user, text, at: Date.now() }, id])}`;
}

async function main(): Promise<void> {
  const tokens = new TokenService(cfg.jwtSecret, 'live-commerce');
  const ours: WireSocket[] = [];
  const relay: WebSocket[] = [];
  for (let s = 0; s < cfg.senders; s++) {
    const token = await tokens.sign({ id: `u_sender_${s}`, name: `Sender ${s}` });
    ours.push(await wireViewer(cfg.oursUrl, token, cfg.roomId, ignore));
    relay.push(await wsConnect(cfg.wsUrl, ignore));
  }
  let sample: ChatMessage | null = null;

  side.on('phase', async (phase) => {
    const ack = new Histogram();
    const ackErrors: Record<string, number> = {};
    let pending = phase.count;
    let allAcked = () => {};
    const acked = new Promise<void>((done) => (allAcked = done));
    const read = busyMeter();
    const lateness = await openLoop({
      count: phase.count,
      at: (i) => phase.startAt + (i * 1000) / phase.rate,
      send: (i, scheduledAt) => {
        const text = benchText(phase.id, i, scheduledAt);
        if (phase.target === 'baseline') {
          if (!sample) throw new Error('the baseline needs a message from our server first (run a phase of ours before)');
          relay[i % relay.length]!.send(relayFrame(sample, text));
          if (--pending === 0) allAcked();
          return;
        }
        ours[i % ours.length]!.emit('chat:send', { text }, (res: { ok: boolean; data?: ChatMessage; error?: { code: string } }) => {
          ack.record(epochNow() - scheduledAt);
          if (res.ok) sample ??= res.data!;
          else ackErrors[res.error!.code] = (ackErrors[res.error!.code] ?? 0) + 1;
          if (--pending === 0) allAcked();
        });
      },
    });
    const busy = read(); // over the send window: what waiting for late acks costs is not load
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([acked, new Promise((r) => (timer = setTimeout(r, ACKS_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (pending > 0) ackErrors.NO_ACK = pending;
    const frameBytes = sample ? Buffer.byteLength(relayFrame(sample, benchText(phase.id, 0, epochNow()))) : null;
    side.send({ type: 'sent', id: phase.id, lateness: lateness.toJSON(), ack: ack.toJSON(), ackErrors, busy, sample, frameBytes });
  });

  side.on('stop', () => {
    for (const s of ours) s.close();
    for (const s of relay) s.terminate();
    process.exit(0);
  });
  side.send({ type: 'ready' });
}

main().catch(side.fail);
