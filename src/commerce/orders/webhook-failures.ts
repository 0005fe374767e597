/**
 * Orders the webhook gave up on: still failing WEBHOOK_GIVE_UP_AFTER_MS after they were made (a
 * receiver that always answers 4xx to them, or is gone for days). Retrying those for ever only
 * grows the pending list, so they leave it, and the room's host sees them listed and can send one
 * again by hand once the receiver is fixed (as Stripe's "resend"). The order itself stays in the
 * room's orders stream and routes: only its delivery failed.
 *
 * Each room has its list beside its orders stream (`<stream>:webhook-failed`, same Cluster slot),
 * so giving up is one script: acknowledged in the group and listed, atomically and once (a second
 * node giving up on the same order finds it acknowledged and lists nothing).
 */
import type { Order } from '../../protocol/index.js';
import { AppError, notFound } from '../../core/errors.js';
import type { RedisClient } from '../../core/redis-client.js';
import { streamFields } from '../../core/redis-util.js';
import { orderStreamKey } from '../sales/sale-keys.js';
import { orderFromEntry } from './order-model.js';
import { postOrder, type AttemptOutcome, type WebhookTarget } from './webhook-post.js';

/** Failed deliveries kept per room (the oldest go first). */
const FAILED_MAX = 1000;

export const failedStreamOf = (ordersStream: string): string => `${ordersStream}:webhook-failed`;

// KEYS: orders stream, its failed list. ARGV: group, entry id, order id, outcome, attempts, now, max.
// → 1 listed, 0 already acknowledged (delivered meanwhile, or another node gave up first).
const GIVE_UP_SCRIPT = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'orderId', ARGV[3], 'entryId', ARGV[2],
  'outcome', ARGV[4], 'attempts', ARGV[5], 'failedAt', ARGV[6])
return 1`;

export interface FailedDelivery {
  orderId: string;
  /** The last attempt's outcome. */
  outcome: AttemptOutcome;
  /** Attempts made by the node that gave up (attempts before a takeover are not counted). */
  attempts: number;
  failedAt: number;
  /** When the order was made. */
  orderedAt: number;
}

type Commands = { webhookGiveUp(stream: string, failed: string, ...args: (string | number)[]): Promise<number> };

/** When the stream entry `id` ("ms-seq") was added: its order's creation time. */
export const entryTime = (id: string): number => Number(id.slice(0, id.indexOf('-')));

export class WebhookFailures {
  private readonly cmd: Commands;

  constructor(
    private readonly redis: RedisClient,
    private readonly group: string,
  ) {
    redis.defineCommand('webhookGiveUp', { numberOfKeys: 2, lua: GIVE_UP_SCRIPT });
    this.cmd = redis as unknown as Commands;
  }

  /** True when it was listed now (false: acknowledged already). */
  async giveUp(stream: string, entryId: string, orderId: string, outcome: AttemptOutcome, attempts: number): Promise<boolean> {
    return (await this.cmd.webhookGiveUp(stream, failedStreamOf(stream), this.group, entryId, orderId, outcome, attempts, Date.now(), FAILED_MAX)) === 1;
  }

  /** The room's failed deliveries, the latest first. */
  async list(roomId: string, limit = 100): Promise<FailedDelivery[]> {
    const rows = (await this.redis.xrevrange(failedStreamOf(orderStreamKey(roomId)), '+', '-', 'COUNT', limit)) as [string, string[]][];
    return rows.map(([, flat]) => {
      const f = streamFields(flat);
      return { orderId: f.orderId!, outcome: f.outcome as AttemptOutcome, attempts: Number(f.attempts), failedAt: Number(f.failedAt), orderedAt: entryTime(f.entryId!) };
    });
  }

  /**
   * Sends one failed order again, once, now. Delivered: it leaves the list. Refused again: it
   * stays listed and the answer says so (UNAVAILABLE: try again once the receiver is fixed).
   */
  async redeliver(roomId: string, orderId: string, target: WebhookTarget): Promise<{ order: Order }> {
    const stream = orderStreamKey(roomId);
    const failed = failedStreamOf(stream);
    const rows = (await this.redis.xrevrange(failed, '+', '-', 'COUNT', FAILED_MAX)) as [string, string[]][];
    const listed = rows.map(([id, flat]) => ({ id, f: streamFields(flat) })).filter((r) => r.f.orderId === orderId);
    const first = listed[0];
    if (!first) throw notFound('failed delivery');
    const entry = (await this.redis.xrange(stream, first.f.entryId!, first.f.entryId!)) as [string, string[]][];
    if (!entry[0]) throw notFound('order');
    const order = orderFromEntry(streamFields(entry[0][1]));
    const outcome = await postOrder(target, order, Number(first.f.attempts) + 1, new AbortController());
    if (outcome !== 'delivered') throw new AppError('UNAVAILABLE', `the webhook receiver did not accept it (${outcome}); it stays in the failed list`);
    await this.redis.xdel(failed, ...listed.map((r) => r.id));
    return { order };
  }
}
