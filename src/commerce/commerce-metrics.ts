/** Commerce metrics: changes to the product bag, pins and product saves on this node. */
import type { Registry } from 'prom-client';
import { counter } from '../core/metrics.js';

export function commerceMetrics(registry: Registry) {
  return {
    bagChanges: counter(registry, 'commerce_bag_changes_total', 'Products added, edited or removed on this node, by change', ['change']),
    pins: counter(registry, 'commerce_pin_changes_total', 'Pins set or cleared on this node, by change', ['change']),
    saves: counter(registry, 'commerce_saves_total', 'engage:save requests on this node, by outcome', ['outcome']),
  };
}

export type CommerceMetrics = ReturnType<typeof commerceMetrics>;
