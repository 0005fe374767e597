/**
 * Flash-sale metrics: reserves and checkouts by outcome (ok, SOLD_OUT, LIMIT_EXCEEDED,
 * HOLD_EXPIRED, RATE_LIMITED, ...), orders and units sold, sales started and ended. A retried
 * request (same requestId) counts as a request again, but never as a second order.
 */
import type { Registry } from 'prom-client';
import { counter, OutcomeCounter } from '../../core/metrics.js';

export function salesMetrics(registry: Registry) {
  return {
    // Counted thousands of times a second in a rush: see OutcomeCounter.
    reserves: new OutcomeCounter(registry, 'sale_reserves_total', 'sale:reserve requests on this node, by outcome (ok or error code)'),
    checkouts: counter(registry, 'sale_checkouts_total', 'sale:checkout requests on this node, by outcome (ok or error code)', ['outcome']),
    releases: counter(registry, 'sale_releases_total', 'sale:release requests on this node, by outcome', ['outcome']),
    orders: counter(registry, 'sale_orders_total', 'Orders created on this node (first checkout of a hold, not its retries)'),
    unitsSold: counter(registry, 'sale_units_sold_total', 'Units in the orders created on this node'),
    started: counter(registry, 'sales_started_total', 'Flash sales started on this node'),
  };
}

export type SalesMetrics = ReturnType<typeof salesMetrics>;

export function countOrder(metrics: SalesMetrics, qty: number): void {
  metrics.orders.inc();
  metrics.unitsSold.inc(qty);
}
