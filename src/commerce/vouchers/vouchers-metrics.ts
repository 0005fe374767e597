/** Voucher metrics of this node: drops, claims and applies by outcome. */
import type { Registry } from 'prom-client';
import { counter } from '../../core/metrics.js';

export function vouchersMetrics(registry: Registry) {
  return {
    drops: counter(registry, 'voucher_drops_total', 'voucher:drop requests on this node, by outcome', ['outcome']),
    claims: counter(registry, 'voucher_claims_total', 'voucher:claim requests on this node, by outcome', ['outcome']),
    applies: counter(registry, 'voucher_applies_total', 'voucher:apply requests on this node, by outcome', ['outcome']),
  };
}

export type VouchersMetrics = ReturnType<typeof vouchersMetrics>;
