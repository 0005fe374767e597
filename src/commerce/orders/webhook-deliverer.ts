/**
 * Delivers every order to the merchant's WEBHOOK_URL, at least once, from the webhook consumer
 * group (WEBHOOK_GROUP) of each room's orders stream. Every node runs one, under a consumer name
 * of its own; the group hands each new order to one of them.
 *
 * Why nothing is lost:
 * - An order is acknowledged (XACK) only after the receiver answered 2xx. Until then it stays in
 *   the group's pending list, in Redis, whatever happens to the node or the receiver.
 * - A failed or timed-out attempt is retried by the same node after an exponential backoff
 *   (BASE·2^n, capped at MAX, with jitter). Each retry first claims the order again (XCLAIM), which
 *   resets its idle time: a live node never leaves an order idle for WEBHOOK_CLAIM_IDLE_MS (the
 *   config requires that to exceed MAX + the attempt timeout).
 * - So an order idle that long has lost its node (crash, kill, restart, stall): every node takes
 *   such orders over with XAUTOCLAIM and delivers them itself.
 * - Until WEBHOOK_GIVE_UP_AFTER_MS after the order was made: then a failed attempt is the last,
 *   and the order is listed for the room's host to redeliver (webhook-failures.ts).
 * Duplicates are possible (an ack lost after a 2xx, a stalled node waking up after a takeover),
 * always with the same order id in the idempotency key: receivers deduplicate by it.
 *
 * Each stream is its own key (one Cluster slot per room), so every command names one stream.
 * Which streams a node reads each WEBHOOK_POLL_MS follows the orders (see tick), not the number of
 * rooms that ever sold.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis-client.js';
import { streamFields } from '../../core/redis-util.js';
import { ORDER_STREAMS } from '../sales/sale-keys.js';
import { createGroup } from '../../core/redis-util.js';
import { orderFromEntry } from './order-model.js';
import type { WebhookMetrics } from './orders-metrics.js';
import { entryTime, WebhookFailures } from './webhook-failures.js';
import { postOrder, type WebhookTarget } from './webhook-post.js';

export interface WebhookOptions extends WebhookTarget {
  group: string;
  backoffBaseMs: number;
  backoffMaxMs: number;
  claimIdleMs: number;
  pollMs: number;
  concurrency: number;
  /** Still failing this long after it was made: given up (webhook-failures.ts). */
  giveUpAfterMs: number;
}

interface Job {
  stream: string;
  id: string;
  fields: Record<string, string>;
  /** 1 for the first attempt this node makes. */
  attempt: number;
}

interface Retry extends Job {
  at: number;
  /** When this node last read or claimed the order (its idle time in the group restarted then). */
  claimedAt: number;
  failingSince: number;
}

/** Streams whose commands run at once in one tick. */
const STREAM_CHUNK = 50;
/** Streams taken from the fresh set per tick. */
const FRESH_BATCH = 200;
/** Longest time between two passes over every stream. */
const FULL_PASS_MAX_MS = 30_000;
/** Global set of order streams with orders not yet read by the webhook group (see tick). */
export const FRESH_STREAMS = 'orders:webhook-fresh';


type Entry = [id: string, fields: string[]];

export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random()): number {
  const plain = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  // Jitter spreads the retries of many orders that failed together (a receiver coming back).
  return Math.round(plain * (0.8 + 0.2 * random));
}

export class WebhookDeliverer {
  readonly consumer = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | null = null;
  /** The tick running now, if any (close waits for it: see close). */
  private ticking: Promise<void> | null = null;
  private closed = false;
  private readonly groups = new Set<string>();
  private readonly retries = new Map<string, Retry>();
  private readonly aborts = new Set<AbortController>();
  /** Attempts in flight, by `stream\nid`. */
  private readonly attempting = new Map<string, Job>();
  private inFlight = 0;
  private pendingTotal = 0;
  private lastFullPass = 0;
  private readonly fullPassMs: number;
  private lastForget = Date.now();
  private readonly m: WebhookMetrics;
  /** Orders given up on, listed per room for the host. */
  readonly failures: WebhookFailures;

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: WebhookOptions,
    metrics: (state: DeliveryState) => WebhookMetrics,
    private readonly log: Logger,
  ) {
    this.fullPassMs = Math.min(opts.claimIdleMs / 2, FULL_PASS_MAX_MS);
    this.failures = new WebhookFailures(redis, opts.group);
    this.m = metrics({
      retrying: () => this.retries.size,
      inFlight: () => this.inFlight,
      pending: () => this.pendingTotal,
      oldestRetryAgeSec: () => {
        let oldest = Infinity;
        for (const r of this.retries.values()) oldest = Math.min(oldest, r.failingSince);
        return oldest === Infinity ? 0 : (Date.now() - oldest) / 1000;
      },
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
    this.timer.unref();
  }

  /**
   * Stops. Attempts in flight are abandoned; their orders and those waiting for a retry stay
   * pending and are handed over: claimed once more with an idle time of WEBHOOK_CLAIM_IDLE_MS, so
   * another node's next takeover pass (within seconds) picks them up instead of waiting that long.
   * If that fails (Redis away) they are taken over after WEBHOOK_CLAIM_IDLE_MS as after a crash.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const a of this.aborts) a.abort();
    // A tick still running may hold an order in neither list (a retry between leaving `retries`
    // and its XCLAIM's answer, or entries an XREADGROUP is returning): once it ends, every order
    // this node was given is in one of them (launch keeps, not posts, what it gets after close).
    await this.ticking?.catch(() => undefined);
    const held = new Map<string, string[]>();
    for (const job of [...this.retries.values(), ...this.attempting.values()]) held.set(job.stream, [...(held.get(job.stream) ?? []), job.id]);
    this.retries.clear();
    this.attempting.clear();
    for (const [stream, ids] of held) {
      // Tried three times: a command timing out on a busy Redis would otherwise leave these orders
      // to wait out the whole claim idle time (minutes) before another node takes them.
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          await this.redis.xclaim(stream, this.opts.group, this.consumer, 0, ...ids, 'IDLE', this.opts.claimIdleMs, 'JUSTID');
          break;
        } catch (err) {
          if (attempt === 3) this.log.warn({ err, orders: ids.length }, 'webhook hand-over failed; orders are taken over after the claim idle time');
        }
      }
    }
    if (held.size) await this.redis.sadd(FRESH_STREAMS, ...held.keys()).catch(() => undefined);
  }

  private free(): number {
    return this.opts.concurrency - this.inFlight;
  }

  /** A checkout just added an order to this room's stream: deliver it at the next poll. */
  noteOrder(stream: string): void {
    void this.redis.sadd(FRESH_STREAMS, stream).catch((err: unknown) => this.log.debug({ err }, 'fresh-order note lost; the full pass finds the order'));
  }

  /**
   * One tick, never overlapped: due retries; then the streams noted as fresh (new orders, or
   * orders handed over by a stopping node); or, every FULL_PASS, every stream — the safety net for
   * a note lost between a checkout and its note (a crash), and where orders abandoned by a crashed
   * node are found once idle long enough. So the work of a tick follows the orders, not the number
   * of rooms that ever sold.
   */
  tick(): Promise<void> {
    if (this.ticking || this.closed) return this.ticking ?? Promise.resolve();
    this.ticking = this.runTick().finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    try {
      await this.retryDue();
      const now = Date.now();
      if (now - this.lastFullPass >= this.fullPassMs) {
        this.lastFullPass = now;
        const streams = await this.redis.smembers(ORDER_STREAMS);
        await this.pass(streams);
        await this.countPending(streams);
        // Consumers that left the group for good (restarted nodes' names), every 2 takeover times.
        if (now - this.lastForget >= 2 * this.opts.claimIdleMs) {
          this.lastForget = now;
          for (const stream of streams) if (this.groups.has(stream)) await this.forgetGone(stream);
        }
      } else {
        const fresh = (await this.redis.spop(FRESH_STREAMS, FRESH_BATCH)) as string[];
        await this.pass(fresh);
      }
    } catch (err) {
      this.log.warn({ err }, 'webhook pass failed; retrying next tick');
    }
  }

  /** New and abandoned orders of these streams; a stream with more than this node can take now
   * is noted fresh again, for the next tick (of any node). */
  private async pass(streams: string[]): Promise<void> {
    const again: string[] = [];
    for (let i = 0; i < streams.length; i += STREAM_CHUNK) {
      const chunk = streams.slice(i, i + STREAM_CHUNK);
      if (this.free() <= 0 || this.closed) {
        again.push(...streams.slice(i));
        break;
      }
      await Promise.all(
        chunk.map(async (stream) => {
          const more = await this.readNew(stream);
          await this.reclaim(stream);
          if (more) again.push(stream);
        }),
      );
    }
    if (again.length) await this.redis.sadd(FRESH_STREAMS, ...again);
  }

  /** The group exists on streams made before webhooks were turned on too (from their start). */
  private async ensureGroup(stream: string): Promise<void> {
    if (this.groups.has(stream)) return;
    await createGroup(this.redis, stream, this.opts.group);
    this.groups.add(stream);
  }

  /** Reads what this node can take now; true when the stream may hold more. */
  private async readNew(stream: string): Promise<boolean> {
    const count = this.free();
    if (count <= 0) return true;
    await this.ensureGroup(stream);
    const reply = (await this.redis.xreadgroup('GROUP', this.opts.group, this.consumer, 'COUNT', count, 'STREAMS', stream, '>')) as
      | [string, Entry[]][]
      | null;
    let read = 0;
    for (const [, entries] of reply ?? []) {
      for (const [id, fields] of entries) {
        read++;
        this.launch({ stream, id, fields: streamFields(fields), attempt: 1 });
      }
    }
    return read >= count;
  }

  /** Orders idle past WEBHOOK_CLAIM_IDLE_MS in anyone's hands: their node stopped retrying them. */
  private async reclaim(stream: string): Promise<void> {
    const count = this.free();
    if (count <= 0 || !this.groups.has(stream)) return;
    const [, entries, deleted] = (await this.redis.xautoclaim(stream, this.opts.group, this.consumer, this.opts.claimIdleMs, '0-0', 'COUNT', count)) as [
      string,
      (Entry | null)[],
      string[]?,
    ];
    // Entries the merchant trimmed away while pending: nothing left to deliver.
    if (deleted?.length) await this.redis.xack(stream, this.opts.group, ...deleted);
    for (const entry of entries) {
      if (!entry) continue;
      this.m.reclaimed.inc();
      this.launch({ stream, id: entry[0], fields: streamFields(entry[1]), attempt: 2 });
    }
  }

  /**
   * Every restart adds a consumer name to the group. One with nothing pending that has not read
   * for twice the takeover time is a node that is gone (a live one reads every poll): delete it.
   * A consumer with pending orders is never deleted (that would drop them); XAUTOCLAIM empties it.
   */
  private async forgetGone(stream: string): Promise<void> {
    const consumers = (await this.redis.xinfo('CONSUMERS', stream, this.opts.group)) as unknown[][];
    for (const flat of consumers) {
      const c = streamFields(flat.map(String));
      if (c.name === this.consumer || Number(c.pending) !== 0 || Number(c.idle) < 2 * this.opts.claimIdleMs) continue;
      await this.redis.xgroup('DELCONSUMER', stream, this.opts.group, c.name!);
    }
  }

  private async retryDue(): Promise<void> {
    const now = Date.now();
    for (const [key, r] of this.retries) {
      if (r.at > now || this.free() <= 0 || this.closed) continue;
      this.retries.delete(key);
      // Still ours? Only if nobody claimed it since we last did (its idle time proves it): then
      // claiming restarts its idle time for this attempt. Nothing back: acknowledged meanwhile, or
      // another node took it over.
      const minIdle = Math.max(0, now - r.claimedAt - 1000);
      const claimed = (await this.redis.xclaim(r.stream, this.opts.group, this.consumer, minIdle, r.id)) as (Entry | null)[];
      const entry = claimed[0];
      if (!entry) continue;
      this.launch({ ...r, fields: streamFields(entry[1]) }, r.failingSince);
    }
  }

  private launch(job: Job, failingSince?: number): void {
    // Given to this node while it closes: kept for the hand-over, not attempted.
    if (this.closed) {
      this.attempting.set(`${job.stream}\n${job.id}`, job);
      return;
    }
    void this.deliver(job, Date.now(), failingSince).catch((err: unknown) => this.log.warn({ err }, 'webhook delivery bookkeeping failed'));
  }

  private async deliver(job: Job, claimedAt: number, failingSince?: number): Promise<void> {
    const order = orderFromEntry(job.fields);
    const key = `${job.stream}\n${job.id}`;
    const abort = new AbortController();
    this.aborts.add(abort);
    this.attempting.set(key, job);
    this.inFlight++;
    const end = this.m.seconds.startTimer();
    const outcome = await postOrder(this.opts, order, job.attempt, abort);
    end();
    this.inFlight--;
    this.aborts.delete(abort);
    if (!this.closed) this.attempting.delete(key);
    // Cut short by close: handed over, whoever takes it over tries again (not a failed attempt).
    if (this.closed && outcome !== 'delivered') return;
    this.m.attempts.inc({ outcome });
    if (outcome === 'delivered') {
      // A lost ack only means one more delivery of the same order id later.
      await this.redis.xack(job.stream, this.opts.group, job.id);
      this.m.delivered.inc();
      return;
    }
    if (Date.now() - entryTime(job.id) >= this.opts.giveUpAfterMs) {
      if (await this.failures.giveUp(job.stream, job.id, order.orderId, outcome, job.attempt)) {
        this.m.givenUp.inc();
        this.log.warn({ orderId: order.orderId, outcome, attempts: job.attempt }, 'webhook delivery given up: listed as failed for the host to redeliver');
      }
      return;
    }
    const wait = backoffMs(job.attempt, this.opts.backoffBaseMs, this.opts.backoffMaxMs);
    this.retries.set(key, { ...job, attempt: job.attempt + 1, at: Date.now() + wait, claimedAt, failingSince: failingSince ?? Date.now() });
    if (job.attempt === 1 || job.attempt % 10 === 0) {
      this.log.warn({ orderId: order.orderId, outcome, attempt: job.attempt, retryInMs: wait }, 'webhook delivery failed; will retry');
    }
  }

  private async countPending(streams: string[]): Promise<void> {
    let total = 0;
    for (let i = 0; i < streams.length; i += STREAM_CHUNK) {
      const counts = await Promise.all(
        streams.slice(i, i + STREAM_CHUNK).filter((s) => this.groups.has(s)).map(async (s) => {
          const summary = (await this.redis.xpending(s, this.opts.group)) as [number, ...unknown[]];
          return Number(summary[0] ?? 0);
        }),
      );
      total += counts.reduce((a, b) => a + b, 0);
    }
    this.pendingTotal = total;
  }
}

export interface DeliveryState {
  retrying(): number;
  inFlight(): number;
  pending(): number;
  oldestRetryAgeSec(): number;
}
