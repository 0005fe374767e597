/**
 * A receiving load generator of bench/chat-fanout.ts, in its own process: its share of the
 * viewers, each connected twice — to our server (wire client, joined to the room) and to the raw
 * `ws` relay — so ours and the baseline are measured alternately on the same connections. For the
 * phase running it counts, per target, every event frame and every chat message inside frames
 * (plain `chat:message` frames and `room:batch` frames alike), each message's latency from its
 * scheduled send time, and how busy this process was over the send window.
 */
import { TokenService } from '../src/auth/tokens.js';
import { Histogram, busyMeter, childSide, epochNow, type Busy } from './bench-kit.js';
import { decodeEvents, inBatches, wireViewer, wsConnect } from './clients.js';
import { parseBenchText, type FromReceivers, type Phase, type ReceiversConfig, type Target, type ToReceivers } from './fanout-protocol.js';

const side = childSide<ReceiversConfig, ToReceivers, FromReceivers>();
const { cfg } = side;

interface Running {
  phase: Phase;
  windowEnd: number;
  latency: Histogram;
  delivered: number;
  expected: number;
  messagesInWindow: number;
  framesInWindow: number;
  busy: Busy | null;
  drained: (() => void) | null;
}

let running: Running | null = null;
let strays = 0;
const lastFrameAt: Record<Target, number> = { ours: 0, baseline: 0 };

/** The one handler all of a target's viewers share. */
const onFrame = (target: Target) => (frame: string) => {
  const now = epochNow();
  lastFrameAt[target] = now;
  const r = running;
  const mine = r !== null && r.phase.target === target;
  const inWindow = mine && now >= r.phase.startAt && now <= r.windowEnd;
  if (inWindow) r.framesInWindow++;
  decodeEvents(frame, (name, payload) => {
    if (name !== 'chat:message') return;
    const parsed = parseBenchText(payload?.text);
    if (!parsed) return;
    if (!mine || parsed[0] !== r.phase.id) {
      strays++;
      return;
    }
    r.latency.record(now - parsed[2]);
    r.delivered++;
    if (inWindow) r.messagesInWindow++;
    if (r.drained && r.delivered >= r.expected) r.drained();
  });
};

async function main(): Promise<void> {
  const tokens = new TokenService(cfg.jwtSecret, 'live-commerce');
  const mine: number[] = [];
  for (let v = cfg.index; v < cfg.viewers; v += cfg.generators) mine.push(v);
  const closers: (() => void)[] = [];
  await inBatches(mine.length, cfg.connectConcurrency, async (k) => {
    const v = mine[k]!;
    const token = await tokens.sign({ id: `u_viewer_${v}`, name: `Viewer ${v}` });
    const ours = await wireViewer(cfg.oursUrl, token, cfg.roomId, onFrame('ours'));
    const base = await wsConnect(cfg.wsUrl, onFrame('baseline'));
    closers.push(() => ours.close(), () => base.terminate());
  });

  side.on('phase', (phase) => {
    const windowEnd = phase.startAt + (phase.count * 1000) / phase.rate;
    const r: Running = { phase, windowEnd, latency: new Histogram(), delivered: 0, expected: phase.count * mine.length, messagesInWindow: 0, framesInWindow: 0, busy: null, drained: null };
    running = r;
    let read: (() => Busy) | null = null;
    setTimeout(() => (read = busyMeter()), Math.max(0, phase.startAt - epochNow()));
    setTimeout(() => (r.busy = read?.() ?? null), Math.max(0, windowEnd - epochNow()));
  });

  side.on('drain', async ({ id, timeoutMs }) => {
    const r = running;
    if (!r || r.phase.id !== id) throw new Error(`drain of phase ${id}, running ${r?.phase.id}`);
    if (r.delivered < r.expected) {
      await new Promise<void>((done) => {
        const timer = setTimeout(done, timeoutMs);
        r.drained = () => {
          clearTimeout(timer);
          done();
        };
      });
    }
    r.drained = null;
    side.send({
      type: 'report',
      id,
      latency: r.latency.toJSON(),
      delivered: r.delivered,
      expected: r.expected,
      messagesInWindow: r.messagesInWindow,
      framesInWindow: r.framesInWindow,
      busy: r.busy ?? { elu: Number.NaN, cpu: Number.NaN },
      strays,
    });
  });

  // Nothing from `target` for quietMs: a backlog left from the phase before is gone.
  side.on('quiet', async ({ target, quietMs, timeoutMs }) => {
    const until = epochNow() + timeoutMs;
    while (epochNow() - lastFrameAt[target] < quietMs && epochNow() < until) await new Promise((r) => setTimeout(r, 50));
    side.send({ type: 'quiet', target, quiet: epochNow() - lastFrameAt[target] >= quietMs });
  });

  side.on('stop', () => {
    for (const close of closers) close();
    process.exit(0);
  });

  side.send({ type: 'ready', viewers: mine.length });
}

main().catch(side.fail);
