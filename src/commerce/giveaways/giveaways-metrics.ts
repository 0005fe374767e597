/** Giveaway metrics of this node: starts, entries by outcome, and draws this node recorded. */
import type { Registry } from 'prom-client';
import { counter } from '../../core/metrics.js';

export function giveawaysMetrics(registry: Registry) {
  return {
    starts: counter(registry, 'giveaway_starts_total', 'giveaway:start requests on this node, by outcome', ['outcome']),
    entries: counter(registry, 'giveaway_entries_total', 'giveaway:enter requests on this node, by outcome', ['outcome']),
    draws: counter(registry, 'giveaway_draws_total', 'Giveaway draws recorded and announced by this node (one node per giveaway)'),
  };
}

export type GiveawaysMetrics = ReturnType<typeof giveawaysMetrics>;
