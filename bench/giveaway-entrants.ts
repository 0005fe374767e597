/**
 * An entrants' load generator of bench/giveaway.ts, in its own process: its share of ENTRANTS,
 * each a signed-in wire client joined to the room on one of the two server processes (alternating).
 * On `enter` every entrant sends `giveaway:enter` once at its own scheduled time, spread evenly over
 * the window (open loop: a late process sends what is due at once and the lateness counts).
 * Latency is from each entry's scheduled time to its ack.
 */
import { TokenService } from '../src/auth/tokens.js';
import { Histogram, busyMeter, childSide, epochNow, openLoop } from './bench-kit.js';
import { inBatches, wireViewer, type WireSocket } from './clients.js';
import type { EntrantsConfig, FromEntrants, ToEntrants } from './giveaway-protocol.js';

const ACK_TIMEOUT_MS = 60_000;
const side = childSide<EntrantsConfig, ToEntrants, FromEntrants>();
const { cfg } = side;
const ignore = () => {};

async function main(): Promise<void> {
  const tokens = new TokenService(cfg.jwtSecret, 'live-commerce');
  const mine: number[] = [];
  for (let e = cfg.index; e < cfg.entrants; e += cfg.generators) mine.push(e);
  const sockets: WireSocket[] = new Array(mine.length);
  await inBatches(mine.length, cfg.connectConcurrency, async (k) => {
    const e = mine[k]!;
    const token = await tokens.sign({ id: `u_entrant_${e}`, name: `Entrant ${e}` });
    sockets[k] = await wireViewer(cfg.urls[e % cfg.urls.length]!, token, cfg.roomId, ignore);
  });

  side.on('enter', async ({ giveawayId, t0, windowMs }) => {
    const latency = new Histogram();
    const refusals: Record<string, number> = {};
    const entered: string[] = [];
    let lastAckAt = 0;
    let pending = mine.length;
    let allAcked = () => {};
    const acked = new Promise<void>((done) => (allAcked = done));
    const at = (k: number) => t0 + (mine[k]! / cfg.entrants) * windowMs;
    const read = busyMeter();
    const lateness = await openLoop({
      count: mine.length,
      at,
      send: (k, scheduledAt) => {
        sockets[k]!.emit('giveaway:enter', { giveawayId }, (res: { ok: boolean; error?: { code: string } }) => {
          lastAckAt = epochNow();
          latency.record(lastAckAt - scheduledAt);
          if (res.ok) entered.push(`u_entrant_${mine[k]}`);
          else refusals[res.error!.code] = (refusals[res.error!.code] ?? 0) + 1;
          if (--pending === 0) allAcked();
        });
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([acked, new Promise((r) => (timer = setTimeout(r, ACK_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (pending > 0) refusals.NO_ACK = pending;
    side.send({ type: 'entered', latency: latency.toJSON(), lateness: lateness.toJSON(), entered, refusals, lastAckAt, busy: read() });
  });

  side.on('stop', () => {
    for (const s of sockets) s?.close();
    process.exit(0);
  });
  side.send({ type: 'ready' });
}

main().catch(side.fail);
