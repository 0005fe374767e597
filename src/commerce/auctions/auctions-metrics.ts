/**
 * Auction metrics: bids by outcome (ok, BID_TOO_LOW, ALREADY_LEADING, AUCTION_ENDED, RATE_LIMITED,
 * ...), lots started, and how lots ended. A retried bid (same requestId) counts as a request again.
 */
import type { Registry } from 'prom-client';
import { counter } from '../../core/metrics.js';

export function auctionsMetrics(registry: Registry) {
  return {
    bids: counter(registry, 'auction_bids_total', 'auction:bid requests on this node, by outcome (ok or error code)', ['outcome']),
    checkouts: counter(registry, 'auction_checkouts_total', 'auction:checkout requests on this node, by outcome', ['outcome']),
    started: counter(registry, 'auction_lots_started_total', 'Lots started on this node'),
    extensions: counter(registry, 'auction_extensions_total', 'Accepted bids on this node that moved a lot\'s end'),
    ended: counter(registry, 'auction_lots_ended_total', 'Lots this node saw end, by how (sold, unsold, cancelled)', ['status']),
  };
}

export type AuctionsMetrics = ReturnType<typeof auctionsMetrics>;
