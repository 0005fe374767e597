/** Buy-now metrics: reserves, checkouts and releases by outcome, orders and units sold. */
import type { Registry } from 'prom-client';
import { counter } from '../../core/metrics.js';

export function buyNowMetrics(registry: Registry) {
  return {
    reserves: counter(registry, 'buy_now_reserves_total', 'buy:reserve requests on this node, by outcome (ok or error code)', ['outcome']),
    checkouts: counter(registry, 'buy_now_checkouts_total', 'buy:checkout requests on this node, by outcome (ok or error code)', ['outcome']),
    releases: counter(registry, 'buy_now_releases_total', 'buy:release requests on this node, by outcome', ['outcome']),
    orders: counter(registry, 'buy_now_orders_total', 'Buy-now orders created on this node (first checkout of a hold, not its retries)'),
    unitsSold: counter(registry, 'buy_now_units_sold_total', 'Units in the buy-now orders created on this node'),
  };
}

export type BuyNowMetrics = ReturnType<typeof buyNowMetrics>;
