/**
 * Orders for the merchant, whatever sold them (flash sale, buy-now, auction): HTTP routes to list
 * and look them up, and signed webhooks delivered at least once (WEBHOOK_URL). It only reads what
 * the checkout script wrote to the rooms' orders streams, so it needs nothing of the selling paths.
 */
import type { Router } from 'express';
import type { Domain, DomainDeps } from '../../core/domain.js';
import { orderStreamKey } from '../sales/sale-keys.js';
import { OrderQueries } from './order-queries.js';
import { registerOrderRoutes, registerWebhookFailureRoutes } from './orders-http.js';
import { webhookMetrics } from './orders-metrics.js';
import { WebhookDeliverer } from './webhook-deliverer.js';

export class OrdersDomain implements Domain {
  readonly name = 'orders';
  readonly queries: OrderQueries;
  readonly webhooks: WebhookDeliverer | null = null;

  constructor(private readonly deps: DomainDeps) {
    const { config, redis, log } = deps;
    this.queries = new OrderQueries(redis);
    if (config.WEBHOOK_URL && config.WEBHOOK_SECRET) {
      this.webhooks = new WebhookDeliverer(
        redis,
        {
          url: config.WEBHOOK_URL,
          secret: config.WEBHOOK_SECRET,
          group: config.WEBHOOK_GROUP,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          backoffBaseMs: config.WEBHOOK_BACKOFF_BASE_MS,
          backoffMaxMs: config.WEBHOOK_BACKOFF_MAX_MS,
          claimIdleMs: config.WEBHOOK_CLAIM_IDLE_MS,
          pollMs: config.WEBHOOK_POLL_MS,
          concurrency: config.WEBHOOK_CONCURRENCY,
          giveUpAfterMs: config.WEBHOOK_GIVE_UP_AFTER_MS,
        },
        (state) => webhookMetrics(deps.metrics, state),
        log,
      );
    }
  }

  /** An order was just made in this room (every selling path's checkout reports it here). */
  noteOrder(roomId: string): void {
    this.webhooks?.noteOrder(orderStreamKey(roomId));
  }

  async start(): Promise<void> {
    this.webhooks?.start();
  }

  registerHttp(router: Router): void {
    registerOrderRoutes(router, this.deps.rooms, this.queries);
    const { webhooks } = this;
    if (webhooks) {
      const { WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_TIMEOUT_MS } = this.deps.config;
      registerWebhookFailureRoutes(router, this.deps.rooms, webhooks.failures, { url: WEBHOOK_URL!, secret: WEBHOOK_SECRET!, timeoutMs: WEBHOOK_TIMEOUT_MS });
    }
  }

  async close(): Promise<void> {
    await this.webhooks?.close();
  }
}
