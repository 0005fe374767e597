/**
 * Which media nodes are alive, for the origin → edge cascade: an edge must learn within seconds
 * that the origin it pipes from died (its viewers get media:reset), and an origin that an edge it
 * pipes to died (its pipe transports are freed).
 *
 * One global sorted set (`media:nodes`, single-key commands only): node id → its last heartbeat on
 * Redis's clock, so skewed machine clocks never make a live node look dead. A node beats every
 * deadAfter/4 and looks for stale nodes as often; a node without a beat for deadAfterMs is dead,
 * so a killed node is noticed within about 1.25 × deadAfterMs. Every survivor notices a death on
 * its own (each acts only on its own connections); the entry is dropped a minute later, once
 * everyone had time to see it.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from '../core/redis-client.js';

const REGISTRY = 'media:nodes';
/** A dead node's entry stays this long, so every survivor's poll sees it. */
const FORGET_AFTER_MS = 60_000;

const NOW_MS = `local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)`;
// KEYS: registry. ARGV: node, forget-after ms. Beats, and drops entries dead for long.
const BEAT_SCRIPT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
return now`;
// KEYS: registry. ARGV: dead-after ms. Nodes whose last beat is older.
const STALE_SCRIPT = `${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])))`;

// KEYS: registry. ARGV: dead-after ms, node, node, ... → the nodes that beat within dead-after ms.
const ALIVE_SCRIPT = `${NOW_MS}
local alive = {}
for i = 2, #ARGV do
  local beat = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if beat and now - tonumber(beat) < tonumber(ARGV[1]) then alive[#alive + 1] = ARGV[i] end
end
return alive`;

interface LivenessCommands {
  mediaNodeBeat(registry: string, node: string, forgetAfterMs: number): Promise<number>;
  mediaNodeStale(registry: string, deadAfterMs: number): Promise<string[]>;
  mediaNodeAlive(registry: string, deadAfterMs: number, ...nodes: string[]): Promise<string[]>;
}

export function newNodeId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(6).toString('base64url')}`;
}

export class NodeLiveness {
  readonly nodeId = newNodeId();
  private readonly cmd: LivenessCommands;
  /** Dead nodes already reported, until their entry is forgotten. */
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private lastBeatAt = 0;

  constructor(
    private readonly redis: RedisClient,
    readonly deadAfterMs: number,
    private readonly log: Logger,
    private readonly onDead: (nodeId: string) => void,
    /** Our own beats were missing for longer than deadAfterMs (Redis or this process stalled):
     * others may have taken us for dead and dropped our registrations, so write them again. */
    private readonly onBackFromSilence: () => void = () => {},
  ) {
    redis.defineCommand('mediaNodeBeat', { numberOfKeys: 1, lua: BEAT_SCRIPT });
    redis.defineCommand('mediaNodeStale', { numberOfKeys: 1, lua: STALE_SCRIPT });
    redis.defineCommand('mediaNodeAlive', { numberOfKeys: 1, lua: ALIVE_SCRIPT });
    this.cmd = redis as unknown as LivenessCommands;
  }

  async start(): Promise<void> {
    await this.cmd.mediaNodeBeat(REGISTRY, this.nodeId, FORGET_AFTER_MS);
    this.lastBeatAt = Date.now();
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.round(this.deadAfterMs / 4)));
    this.timer.unref();
  }

  /** Whether `node` beat within deadAfterMs, on Redis's clock (a node that left cleanly, or was
   * forgotten, is not). */
  async isAlive(node: string): Promise<boolean> {
    return (await this.aliveOf([node])).has(node);
  }

  /** Those of `nodes` that are alive (one call, whatever their number). */
  async aliveOf(nodes: string[]): Promise<Set<string>> {
    if (nodes.length === 0) return new Set();
    return new Set(await this.cmd.mediaNodeAlive(REGISTRY, this.deadAfterMs, ...nodes));
  }

  /** Leave the registry at once (clean shutdown): nobody has to wait for our beat to go stale. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.redis.zrem(REGISTRY, this.nodeId).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.cmd.mediaNodeBeat(REGISTRY, this.nodeId, FORGET_AFTER_MS);
      const silentFor = Date.now() - this.lastBeatAt;
      this.lastBeatAt = Date.now();
      if (silentFor > this.deadAfterMs) {
        this.log.warn({ silentFor }, 'media node heartbeat resumed after a silence; registering again');
        this.onBackFromSilence();
      }
      const stale = new Set(await this.cmd.mediaNodeStale(REGISTRY, this.deadAfterMs));
      for (const id of this.reported) if (!stale.has(id)) this.reported.delete(id);
      for (const id of stale) {
        if (id === this.nodeId || this.reported.has(id)) continue;
        this.reported.add(id);
        this.log.warn({ node: id }, 'media node stopped beating: taken for dead');
        this.onDead(id);
      }
    } catch (err) {
      // Unknown while Redis does not answer: nobody is taken for dead on a failed read.
      this.log.warn({ err }, 'media node heartbeat failed');
    } finally {
      this.ticking = false;
    }
  }
}
