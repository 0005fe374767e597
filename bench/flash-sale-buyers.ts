/**
 * A buyers' load generator of bench/flash-sale.ts, in its own process: its share of BUYERS, each
 * connected to our server (wire client, signed in, joined to the room) and to the bare Socket.IO
 * server. On `rush` every buyer taps `sale:reserve` once, all scheduled at the same instant; taps
 * leave in slices (emitSlice per macrotask) so acks are read while the burst is still going out.
 * Latency is from the scheduled instant, so the time this process needs to send its taps is in
 * it, and how late each tap left is reported on its own.
 */
import { randomUUID } from 'node:crypto';
import { TokenService } from '../src/auth/tokens.js';
import { Histogram, busyMeter, childSide, epochNow, openLoop } from './bench-kit.js';
import { decodeEvents, inBatches, wireConnect, wireViewer, type WireSocket } from './clients.js';
import type { BuyersConfig, FromBuyers, RushTarget, ToBuyers } from './flash-sale-protocol.js';

const RUSH_TIMEOUT_MS = 120_000;
const side = childSide<BuyersConfig, ToBuyers, FromBuyers>();
const { cfg } = side;

/** How many of our buyers saw `sale:started` for each sale. */
const started = new Map<string, number>();
let armed: { saleId: string; done: () => void } | null = null;
const onOurFrame = (frame: string) => {
  decodeEvents(frame, (name, payload) => {
    if (name !== 'sale:started') return;
    const id = payload?.sale?.id as string;
    const n = (started.get(id) ?? 0) + 1;
    started.set(id, n);
    if (armed?.saleId === id && n >= sockets.ours.length) armed.done();
  });
};
const ignore = () => {};
const sockets: Record<RushTarget, WireSocket[]> = { ours: [], bare: [] };

async function main(): Promise<void> {
  const tokens = new TokenService(cfg.jwtSecret, 'live-commerce');
  const mine: number[] = [];
  for (let b = cfg.index; b < cfg.buyers; b += cfg.generators) mine.push(b);
  await inBatches(mine.length, cfg.connectConcurrency, async (k) => {
    const b = mine[k]!;
    const token = await tokens.sign({ id: `u_buyer_${b}`, name: `Buyer ${b}` });
    sockets.ours.push(await wireViewer(cfg.urls.ours, token, cfg.roomId, onOurFrame));
    sockets.bare.push(await wireConnect(cfg.urls.bare, token, ignore));
  });

  side.on('arm', async ({ saleId }) => {
    if ((started.get(saleId) ?? 0) < sockets.ours.length) await new Promise<void>((done) => (armed = { saleId, done }));
    armed = null;
    side.send({ type: 'armed' });
  });

  side.on('rush', async ({ target, saleId, at }) => {
    const crowd = sockets[target];
    const latency = new Histogram();
    const refusals: Record<string, number> = {};
    let held = 0;
    let lastAckAt = 0;
    let pending = crowd.length;
    let allAcked = () => {};
    const acked = new Promise<void>((done) => (allAcked = done));
    let read = busyMeter();
    const lateness = await openLoop({
      count: crowd.length,
      at: () => at,
      slice: cfg.emitSlice,
      send: (i) => {
        if (i === 0) read = busyMeter();
        crowd[i]!.emit('sale:reserve', { saleId, qty: 1, requestId: randomUUID() }, (res: { ok: boolean; data?: { qty: number }; error?: { code: string } }) => {
          lastAckAt = epochNow();
          latency.record(lastAckAt - at);
          if (res.ok) held += res.data!.qty;
          else refusals[res.error!.code] = (refusals[res.error!.code] ?? 0) + 1;
          if (--pending === 0) allAcked();
        });
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([acked, new Promise((r) => (timer = setTimeout(r, RUSH_TIMEOUT_MS)))]);
    clearTimeout(timer);
    const busy = read();
    if (pending > 0) refusals.NO_ACK = pending;
    side.send({ type: 'rushed', latency: latency.toJSON(), lateness: lateness.toJSON(), held, refusals, lastAckAt, busy });
  });

  side.on('stop', () => {
    for (const s of [...sockets.ours, ...sockets.bare]) s.close();
    process.exit(0);
  });
  side.send({ type: 'ready' });
}

main().catch(side.fail);
