/**
 * Webhook delivery state, per node: attempts by outcome, how long they took, what waits for a
 * retry or is in flight, orders taken over from a dead node, and the cluster-wide count of orders
 * not yet acknowledged by the receiver (read from the consumer group at each pass over every
 * stream, at most 30 s apart).
 */
import type { Registry } from 'prom-client';
import { counter, histogram, sampledGauge } from '../../core/metrics.js';

export function webhookMetrics(registry: Registry, state: { retrying(): number; inFlight(): number; pending(): number; oldestRetryAgeSec(): number }) {
  sampledGauge(registry, 'webhook_retry_queue', 'Orders this node will retry delivering after a backoff', () => state.retrying());
  sampledGauge(registry, 'webhook_in_flight', 'Webhook deliveries this node has in flight', () => state.inFlight());
  sampledGauge(registry, 'webhook_pending_orders', 'Orders delivered to no receiver yet (all nodes: unacknowledged in the webhook consumer group; refreshed at each pass over every stream)', () => state.pending());
  sampledGauge(registry, 'webhook_oldest_retry_age_seconds', 'Age of the oldest order waiting for a retry on this node', () => state.oldestRetryAgeSec());
  return {
    attempts: counter(registry, 'webhook_attempts_total', 'Webhook delivery attempts on this node, by outcome (delivered, http_error, timeout, network_error)', ['outcome']),
    seconds: histogram(registry, 'webhook_attempt_seconds', 'Duration of webhook delivery attempts', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    reclaimed: counter(registry, 'webhook_reclaimed_total', 'Orders this node took over from a consumer that stopped retrying them (XAUTOCLAIM)'),
    delivered: counter(registry, 'webhook_delivered_total', 'Orders delivered (2xx) and acknowledged by this node'),
    givenUp: counter(registry, 'webhook_given_up_total', 'Orders still failing WEBHOOK_GIVE_UP_AFTER_MS after they were made: no more retries, listed as failed for the host'),
  };
}

export type WebhookMetrics = ReturnType<typeof webhookMetrics>;
